#!/usr/bin/env bash
# The playbook runs while files/with_peer.py serves a pynetdicom SCP on 127.0.0.1 that accepts
# only the calling AE title MONITOR; the playbook gets its port as the variable port_picky.
set -eux

python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
"$python" files/with_peer.py ansible-playbook -i inventory runme.yml "$@"
