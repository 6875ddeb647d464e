#!/usr/bin/env bash
# Integration test of dicom.network.echo against real DICOM peers on 127.0.0.1:
# ad hoc, in a playbook (runme.yml: results, failures, check mode, targets, delegate_to).
set -eux

python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
work=$(mktemp -d)
peers_pid=
cleanup() {
    if [[ -n "$peers_pid" ]]; then kill "$peers_pid" 2>/dev/null || true; wait "$peers_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Start the peers; they write their ephemeral ports to $work/ports.json when ready.
"$python" files/peers.py "$work/ports.json" &
peers_pid=$!
for _ in $(seq 1 100); do
    [[ -s "$work/ports.json" ]] && break
    kill -0 "$peers_pid"   # the peers died: fail now rather than after the wait
    sleep 0.1
done
[[ -s "$work/ports.json" ]]
cat "$work/ports.json"
port() { "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["port_" + sys.argv[2]])' "$work/ports.json" "$1"; }
open_port=$(port open)
closed_port=$(port closed)

# Ad hoc: success prints SUCCESS and exits 0; a refused connection fails the command.
ansible -i inventory localhost -m dicom.network.echo -a "host=127.0.0.1 port=$open_port" "$@" | tee "$work/adhoc.out"
grep -q 'localhost | SUCCESS' "$work/adhoc.out"
grep -q '"implementation_version_name": "PYNETDICOM_304"' "$work/adhoc.out"
if ansible -i inventory localhost -m dicom.network.echo -a "peer=127.0.0.1 port=$closed_port" "$@" >"$work/adhoc.out" 2>&1; then
    echo "the ad hoc run against a closed port must fail"; exit 1
fi
cat "$work/adhoc.out"
grep -q 'connection refused' "$work/adhoc.out"

# The playbook: every assertion is in runme.yml.
ansible-playbook -i inventory runme.yml -e "@$work/ports.json" "$@"
