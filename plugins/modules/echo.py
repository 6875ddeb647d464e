#!/usr/bin/python

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: echo
short_description: Verify DICOM peers with C-ECHO (the Verification SOP Class)
version_added: 0.1.0
description:
  - Opens a DICOM association with a peer (a PACS, a modality worklist server, a router; any
    Service Class Provider), sends one or more C-ECHO requests on it, and releases (or aborts)
    the association. This is the DICOM equivalent of a ping, like C(echoscu) of DCMTK or
    pynetdicom, with Ansible-style option names.
  - The task fails unless every C-ECHO was answered with status V(0x0000) (Success), and says why
    in one line, for example that the association was rejected because the peer does not
    answer to the called AE title, that nothing listens on the port, or that the peer never
    answered. All result keys are returned on failure too, filled as far as the run got.
  - Checks many peers in one task with O(targets), at most O(concurrency) at a time, each
    with its own options; then the task fails only when a target marked as required fails.
  - The check runs where the module runs; on the managed host, or on the host named by
    C(delegate_to) (a jump host inside the hospital network, for example).
  - The module never changes anything, so it reports C(changed=false) and runs in check mode too.
author:
  - dicom.network contributors (!UNKNOWN)
requirements:
  - pynetdicom >= 3.0 (and pydicom, which it brings) on the host that runs the module
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - A C-ECHO changes nothing on the peer, so the check runs in check mode as well.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  host:
    description:
      - Host name or IP address of the DICOM peer (the SCP) to verify.
      - IPv6 addresses may be written with or without brackets.
      - Required unless O(targets) is given; mutually exclusive with O(targets).
    type: str
    aliases: [peer, addr]
  port:
    description:
      - TCP port of the peer, 1 to 65535.
      - 104 is the well-known DICOM port; many peers listen on 11112 instead.
    type: int
    default: 104
  calling_aet:
    description:
      - Our AE title (the calling AE title), 1 to 16 ASCII characters, no backslash and no
        control characters.
      - Many PACS only accept associations from AE titles they know.
    type: str
    default: ECHOSCU
  called_aet:
    description:
      - The peer's AE title (the called AE title), 1 to 16 ASCII characters, no backslash and
        no control characters.
    type: str
    default: ANY-SCP
  propose_ts:
    description:
      - How many transfer syntaxes to propose for Verification, in this order
        (like C(echoscu -pts)).
      - V(1) proposes Implicit VR Little Endian; V(2) adds Explicit VR Little Endian;
        V(3) adds Explicit VR Big Endian.
      - Mutually exclusive with O(transfer_syntaxes).
    type: int
    choices: [1, 2, 3]
    default: 1
  transfer_syntaxes:
    description:
      - The transfer syntaxes to propose for Verification, in order of preference, instead of
        those chosen by O(propose_ts).
      - Each is a UID (V(1.2.840.10008.1.2.1)) or a pydicom keyword (V(ExplicitVRLittleEndian)).
      - Mutually exclusive with O(propose_ts).
    type: list
    elements: str
  connect_timeout:
    description:
      - Seconds to wait for the host name to resolve and the TCP connection to be set up
        (like C(echoscu -to)). Must be greater than 0.
    type: float
    default: 10
  acse_timeout:
    description:
      - Seconds to wait for the peer to accept, reject or release the association
        (like C(echoscu -ta)). Must be greater than 0.
    type: float
    default: 30
  dimse_timeout:
    description:
      - Seconds to wait for the response to each C-ECHO request (like C(echoscu -td)).
        Must be greater than 0.
    type: float
    default: 30
  max_pdu:
    description:
      - The largest PDU we accept, in bytes, announced to the peer (like C(echoscu -pdu)).
      - V(0) means unlimited; otherwise 4096 to 4294967295.
    type: int
    default: 16384
  repeat:
    description:
      - How many C-ECHO requests to send on the one association, 1 to 100000.
      - Message IDs count up from 1, so the responses can be matched to the requests.
    type: int
    default: 1
  abort:
    description:
      - Abort the association (A-ABORT) instead of releasing it after the last C-ECHO.
      - Some peers log an abort as an error; use it to test how a peer copes with it.
    type: bool
    default: false
  deadline:
    description:
      - Seconds one run may take from start to end, whatever the peer does. A run is one
        attempt at one peer; name resolution, connection, association, every C-ECHO and the
        release all count against it.
      - It bounds what the other timeouts cannot, such as a peer that trickles bytes slowly
        enough to reset every other timeout, or the sum of many O(repeat) echoes.
      - Must be greater than 0.
    type: float
    default: 120
  tls:
    description:
      - Speak DICOM over TLS (DICOM TLS, PS3.15 annex B; port 2762 is registered for it), like
        C(echoscu +tls) or C(+tla).
      - TLS 1.2 or later (see O(tls_min_version)) with the BCP 195 cipher profile. The peer's
        certificate chain and host name are verified (see O(tls_verify)).
      - When the handshake fails or the peer's certificate is not accepted the task fails with
        RV(association.result=tls_error) and a message that says which (unknown CA, host name
        mismatch naming the certificate's names, expired or not yet valid naming the date, the
        peer requires a client certificate, the peer does not speak TLS).
    type: bool
    default: false
  tls_ca_file:
    description:
      - A PEM file of the CA certificates (or of the peer's own certificate) to trust, like
        C(echoscu +cf). Only with O(tls=true).
      - Without it and O(tls_ca_path), the system's trust store is used.
    type: path
  tls_ca_path:
    description:
      - A directory of PEM certificates to trust (every file in it that holds a certificate),
        like C(echoscu +cd). Only with O(tls=true).
    type: path
  tls_cert_file:
    description:
      - Our certificate (PEM) for mutual TLS, like the second file of C(echoscu +tls). Only with
        O(tls=true) and O(tls_key_file).
    type: path
  tls_key_file:
    description:
      - The private key (PEM, may be encrypted) of O(tls_cert_file).
    type: path
  tls_key_password:
    description:
      - The password of an encrypted O(tls_key_file), like C(echoscu +pw).
      - When not given with O(tls_key_file), taken from the environment variable
        E(DICOM_TLS_KEY_PASSWORD) of the host that runs the module. Never logged nor returned.
    type: str
  tls_verify:
    description:
      - Verify the peer's certificate chain and host name (the default, like C(echoscu -rc)).
      - V(false) (like C(echoscu -ic)) still reports the certificate in RV(tls.peer_certificate),
        which is how to watch the expiry of a self-signed PACS certificate, and says in a
        warning that the peer was not verified.
    type: bool
    default: true
  tls_server_name:
    description:
      - The name the peer's certificate must carry, when it is not O(host) (connecting by IP
        address to a PACS whose certificate names its DNS name, for example).
      - By default O(host); an IP address is checked against the certificate's IP addresses.
    type: str
  tls_min_version:
    description:
      - The oldest TLS version accepted.
    type: str
    choices: ['1.2', '1.3']
    default: '1.2'
  username:
    description:
      - User identity (PS3.7 D.3.3.7) sent in the association request, like C(echoscu -usr).
      - Sent as type V(username), or V(username_password) when O(password) is given.
    type: str
  password:
    description:
      - The password of O(username) (may be empty), like C(echoscu -pwd).
      - When not given with O(username), taken from the environment variable E(DICOM_PASSWORD)
        of the host that runs the module. Never logged nor returned.
    type: str
  identity_type:
    description:
      - The user identity type. By default V(username_password) when O(password) is given,
        else V(username) when O(username) is given.
      - V(kerberos), V(saml) and V(jwt) send the token of O(identity_token) or
        O(identity_token_file).
    type: str
    choices: [username, username_password, kerberos, saml, jwt]
  identity_token:
    description:
      - The Kerberos service ticket, SAML assertion or JSON Web Token itself. Never logged nor
        returned. Mutually exclusive with O(identity_token_file).
    type: str
  identity_token_file:
    description:
      - A file holding the Kerberos service ticket, SAML assertion or JSON Web Token, read on the
        host that runs the module (like C(echoscu -kt), C(--saml), C(--jwt)).
    type: path
  identity_positive_response:
    description:
      - Ask the peer to confirm the user identity (like C(echoscu -rsp)), and fail when it
        accepts the association without doing so (RV(failure=association)).
      - PS3.7 asks a peer that checks identities to answer so; a peer that ignores user
        identity accepts any identity without a word.
    type: bool
    default: false
  targets:
    description:
      - Check many peers in one task. Each entry names a peer with O(targets[].host) and may set
        any of the options above for that peer; what it does not set is taken from the
        top-level options.
      - The results come back in RV(results), in the order of O(targets), whatever order the
        peers answered in.
      - The task fails only when a target with O(targets[].required=true) fails.
      - An empty list checks nothing and succeeds.
      - Mutually exclusive with O(host).
    type: list
    elements: dict
    suboptions:
      host:
        description:
          - Host name or IP address of this peer.
        type: str
        required: true
        aliases: [peer, addr]
      name:
        description:
          - What to call this peer in RV(results) and in messages.
          - Defaults to C(host:port).
        type: str
      required:
        description:
          - Whether the task fails when this peer fails.
          - An optional peer's failure is reported in RV(results), RV(failed_targets) and a warning.
        type: bool
        default: true
      port:
        description:
          - Overrides O(port) for this peer.
        type: int
      calling_aet:
        description:
          - Overrides O(calling_aet) for this peer.
        type: str
      called_aet:
        description:
          - Overrides O(called_aet) for this peer.
        type: str
      propose_ts:
        description:
          - Overrides O(propose_ts) (and a top-level O(transfer_syntaxes)) for this peer.
          - Mutually exclusive with O(targets[].transfer_syntaxes).
        type: int
        choices: [1, 2, 3]
      transfer_syntaxes:
        description:
          - Overrides O(transfer_syntaxes) (and O(propose_ts)) for this peer.
          - Mutually exclusive with O(targets[].propose_ts).
        type: list
        elements: str
      connect_timeout:
        description:
          - Overrides O(connect_timeout) for this peer.
        type: float
      acse_timeout:
        description:
          - Overrides O(acse_timeout) for this peer.
        type: float
      dimse_timeout:
        description:
          - Overrides O(dimse_timeout) for this peer.
        type: float
      max_pdu:
        description:
          - Overrides O(max_pdu) for this peer.
        type: int
      repeat:
        description:
          - Overrides O(repeat) for this peer.
        type: int
      abort:
        description:
          - Overrides O(abort) for this peer.
        type: bool
      deadline:
        description:
          - Overrides O(deadline) for this peer.
        type: float
      tls:
        description:
          - Overrides O(tls) for this peer.
        type: bool
      tls_ca_file:
        description:
          - Overrides O(tls_ca_file) for this peer.
        type: path
      tls_ca_path:
        description:
          - Overrides O(tls_ca_path) for this peer.
        type: path
      tls_cert_file:
        description:
          - Overrides O(tls_cert_file) for this peer.
        type: path
      tls_key_file:
        description:
          - Overrides O(tls_key_file) for this peer.
        type: path
      tls_key_password:
        description:
          - Overrides O(tls_key_password) for this peer.
        type: str
      tls_verify:
        description:
          - Overrides O(tls_verify) for this peer.
        type: bool
      tls_server_name:
        description:
          - Overrides O(tls_server_name) for this peer.
        type: str
      tls_min_version:
        description:
          - Overrides O(tls_min_version) for this peer.
        type: str
        choices: ['1.2', '1.3']
      username:
        description:
          - Overrides O(username) for this peer.
        type: str
      password:
        description:
          - Overrides O(password) for this peer.
        type: str
      identity_type:
        description:
          - Overrides O(identity_type) for this peer.
        type: str
        choices: [username, username_password, kerberos, saml, jwt]
      identity_token:
        description:
          - Overrides O(identity_token) for this peer.
        type: str
      identity_token_file:
        description:
          - Overrides O(identity_token_file) for this peer.
        type: path
      identity_positive_response:
        description:
          - Overrides O(identity_positive_response) for this peer.
        type: bool
  concurrency:
    description:
      - With O(targets), how many peers to check at the same time, 1 to 256.
      - Each check holds one connection; a peer that serves several targets (different called
        AE titles on one PACS, for example) sees up to this many associations at once.
    type: int
    default: 16
  retries:
    description:
      - How many times to try again when a peer cannot be connected to, or drops the
        association, for nodes that are still starting (after a deploy or a reboot).
      - A rejection, a missing presentation context or a failed C-ECHO status is an answer
        and is never retried.
      - Applies to O(host) and to every entry of O(targets). RV(attempts) says how many runs it took.
    type: int
    default: 0
  retry_delay:
    description:
      - Seconds to wait between two attempts (see O(retries)).
    type: float
    default: 1
  result_detail:
    description:
      - With O(targets), what each entry of RV(results) holds.
      - V(full) returns every key of a single-host run for each target.
      - V(brief) returns the verdict alone, for large fleets where only the outcome matters
        (Ansible handles every returned value once more, and 1,000 full results are about
        70,000 values). Each entry then holds RV(results[].name), RV(results[].required),
        RV(results[].ok), RV(results[].failure), RV(results[].exit_code), RV(results[].msg),
        RV(results[].status), RV(results[].attempts) and RV(results[].total_ms).
      - RV(failed_targets), RV(failed_required_targets) and RV(summary) are the same either way.
    type: str
    choices: [full, brief]
    default: full
notes:
  - Every wait is bounded. O(connect_timeout), O(acse_timeout) and O(dimse_timeout) bound each
    step, and O(deadline) bounds the whole run, so a task never hangs on a peer that stops
    answering. A run that times out is aborted (A-ABORT) before the module returns.
  - The O(deadline) applies to each attempt at each peer. The longest a peer can take is thus
    (O(retries) + 1) times O(deadline), plus O(retries) times O(retry_delay). With O(targets)
    the whole task takes at most that times the number of targets divided by O(concurrency),
    rounded up. Set the C(timeout) keyword of the task to bound the task as a whole.
  - "Options are checked before anything is sent; a bad one fails the task with a message that
    names it, for example C(calling_aet: must be at most 16 characters (got 17)), or
    C(targets[2].port: ...) for an entry of O(targets)."
  - "DICOM TLS (O(tls)) uses Python's own C(ssl) module: no other dependency. Secrets
    (O(tls_key_password), O(password), O(identity_token)) are C(no_log) and never appear in a
    result, a message or a warning."
seealso:
  - name: DICOM PS3.15 Annex B, Secure Transport Connection Profiles
    description: DICOM TLS, which O(tls) speaks.
    link: https://dicom.nema.org/medical/dicom/current/output/chtml/part15/chapter_B.html
  - name: DICOM PS3.7 D.3.3.7, User Identity Negotiation
    description: What O(username), O(identity_type) and O(identity_positive_response) send.
    link: https://dicom.nema.org/medical/dicom/current/output/chtml/part07/sect_D.3.3.7.html
  - name: DICOM PS3.7 Annex A, Verification Service Class
    description: The C-ECHO service this module uses.
    link: https://dicom.nema.org/medical/dicom/current/output/chtml/part07/chapter_A.html
  - name: DICOM PS3.8 section 9.3.4, A-ASSOCIATE-RJ PDU structure
    description: >-
      The meaning of RV(association.reject_result), RV(association.reject_source)
      and RV(association.reject_reason).
    link: https://dicom.nema.org/medical/dicom/current/output/chtml/part08/sect_9.3.4.html
"""

EXAMPLES = r"""
# From the shell, with the collection installed and pynetdicom on the target:
# ansible localhost -m dicom.network.echo -a 'host=pacs.example.org port=11112 called_aet=PACS'

- name: Check that the PACS answers C-ECHO
  dicom.network.echo:
    host: pacs.example.org
    port: 11112
    calling_aet: ANSIBLE
    called_aet: PACS

- name: Check the PACS from a jump host inside the hospital network
  dicom.network.echo:
    host: 10.20.30.40
    port: 104
    called_aet: ARCHIVE
  delegate_to: jump.example.org

- name: Propose all three uncompressed transfer syntaxes and echo five times
  dicom.network.echo:
    host: pacs.example.org
    called_aet: PACS
    propose_ts: 3
    repeat: 5
  register: echo

- name: Show the round trip times
  ansible.builtin.debug:
    msg: >-
      min {{ echo.timing.echo_ms.min }} ms, mean {{ echo.timing.echo_ms.mean }} ms,
      max {{ echo.timing.echo_ms.max }} ms

- name: Propose transfer syntaxes by keyword or UID
  dicom.network.echo:
    host: pacs.example.org
    called_aet: PACS
    transfer_syntaxes:
      - ExplicitVRLittleEndian
      - 1.2.840.10008.1.2

- name: Assert that the PACS runs the expected software version
  dicom.network.echo:
    host: pacs.example.org
    called_aet: PACS
  register: echo

- name: Check the implementation version name the PACS announced
  ansible.builtin.assert:
    that:
      - echo.peer.implementation_version_name == 'OFFIS_DCMTK_367'
    fail_msg: "PACS runs {{ echo.peer.implementation_version_name }}"

- name: Wait for a freshly deployed PACS to come up (up to a minute)
  dicom.network.echo:
    host: pacs.example.org
    called_aet: PACS
    retries: 30
    retry_delay: 2

- name: Record the outcome without failing, for a report
  dicom.network.echo:
    host: pacs.example.org
    called_aet: PACS
  register: echo
  ignore_errors: true

- name: Tell why the association was rejected
  ansible.builtin.debug:
    msg: "rejected with reason {{ echo.association.reject_reason }} ({{ echo.association.reject_reason_text }})"
  when: echo.association.result == 'rejected'

- name: Check every DICOM node of the site, 32 at a time
  dicom.network.echo:
    calling_aet: ANSIBLE
    concurrency: 32
    retries: 1
    targets:
      - name: archive
        host: pacs.example.org
        port: 11112
        called_aet: ARCHIVE
      - name: worklist
        host: ris.example.org
        called_aet: WORKLIST
      - name: ct1
        host: 10.20.31.11
        called_aet: CT1
        # A modality may be switched off: report it, but do not fail the task.
        required: false
  register: site

- name: List the nodes that did not answer
  ansible.builtin.debug:
    msg: "{{ site.failed_targets }}"

- name: Check the DICOM nodes listed in a variable, from the control node, once for the play
  dicom.network.echo:
    targets: "{{ dicom_nodes }}"
  run_once: true
  delegate_to: localhost
  vars:
    dicom_nodes:
      - {name: archive, host: pacs.example.org, port: 11112, called_aet: ARCHIVE}
      - {name: router, host: router.example.org, called_aet: ROUTER, propose_ts: 3}
"""

RETURN = r"""
name:
  description: The peer's name in messages, V(host:port).
  returned: when O(host) is given
  type: str
  sample: pacs.example.org:11112
ok:
  description: Whether the association was accepted and every C-ECHO returned Success.
  returned: when O(host) is given
  type: bool
  sample: true
failure:
  description:
    - The class of failure, or V(null) on success.
    - V(usage) (a bad option), V(connect) (no TCP connection), V(rejected) (association rejected),
      V(no_context) (Verification not accepted with the transfer syntaxes proposed), V(association)
      (aborted, broken or timed out, or accepted without the user identity positive response that
      was asked for), V(echo) (a C-ECHO failed or was not answered), V(tls) (the TLS handshake
      failed or the peer's certificate was not accepted).
  returned: when O(host) is given
  type: str
  sample: rejected
exit_code:
  description: The exit status C(bin/echoscu) gives for this outcome, V(0) on success.
  returned: when O(host) is given
  type: int
  sample: 0
msg:
  description: One line that says what happened, and on failure why.
  returned: always
  type: str
  sample: 1 C-ECHO to PACS at pacs.example.org:11112 returned Success
hint:
  description:
    - On failure, one sentence an operator can act on, what to check and where (for instance the
      called AE title and the peer's list of known calling AE titles for a rejection with reason 7);
      V(null) on success.
    - It never claims more than the peer's answer proves, and only a transient rejection suggests
      that the same check may succeed later.
  returned: when O(host) is given
  type: str
  sample: >-
    Nothing accepts connections on pacs.example.org port 11112: check that the peer's DICOM service is
    running and listens on this port and address, and that no firewall rejects the connection.
status:
  description: The status of the last C-ECHO response (V(0) is Success), or V(null) if none came.
  returned: when O(host) is given
  type: int
  sample: 0
echoes:
  description: One entry per C-ECHO request sent, in order.
  returned: when O(host) is given
  type: list
  elements: dict
  contains:
    message_id:
      description: The message ID of the request.
      type: int
      sample: 1
    status:
      description: The status of the response, or V(null) if none came.
      type: int
      sample: 0
    rtt_ms:
      description: Milliseconds from the request to its response, or V(null) if none came.
      type: float
      sample: 1.182
  sample: [{message_id: 1, status: 0, rtt_ms: 1.182}]
association:
  description: How the association went.
  returned: when O(host) is given
  type: dict
  contains:
    result:
      description:
        - V(accepted), V(rejected), V(aborted), V(refused) (nothing listens on the port),
          V(unreachable), V(timeout), V(protocol_error) or V(tls_error) (the TLS handshake failed
          or the peer's certificate was not accepted); V(null) if the options were not valid.
      type: str
      sample: accepted
    phase:
      description: Where the run ended, V(connect), V(associate), V(echo), V(release) or V(abort).
      type: str
      sample: release
    released:
      description: Whether the association was released in good order.
      type: bool
      sample: true
    aborted_by:
      description: V(us) or V(peer) when the association was aborted, otherwise V(null).
      type: str
      sample: null
    reject_result:
      description: On rejection, the result code (1 permanent, 2 transient), otherwise V(null).
      type: int
      sample: 1
    reject_source:
      description: On rejection, the source code (1 service user, 2 ACSE provider, 3 presentation provider).
      type: int
      sample: 1
    reject_reason:
      description:
        - On rejection, the reason code, otherwise V(null).
        - From the service user (source 1), V(3) means calling AE title not recognised,
          V(7) called AE title not recognised.
      type: int
      sample: 7
    reject_result_text:
      description: The text of RV(association.reject_result).
      type: str
      sample: Rejected (Permanent)
    reject_source_text:
      description: The text of RV(association.reject_source).
      type: str
      sample: DUL service-user
    reject_reason_text:
      description: The text of RV(association.reject_reason).
      type: str
      sample: Called AE title not recognised
    abort_source:
      description: When the peer aborted, the A-ABORT source (0 service user, 2 service provider).
      type: int
      sample: null
    abort_reason:
      description: When the peer aborted, the A-ABORT reason.
      type: int
      sample: null
    abort_source_text:
      description: The text of RV(association.abort_source).
      type: str
      sample: null
    abort_reason_text:
      description: The text of RV(association.abort_reason).
      type: str
      sample: null
  sample:
    result: accepted
    phase: release
    released: true
    aborted_by: null
    reject_result: null
    reject_source: null
    reject_reason: null
    reject_result_text: null
    reject_source_text: null
    reject_reason_text: null
    abort_source: null
    abort_reason: null
    abort_source_text: null
    abort_reason_text: null
accepted_contexts:
  description: The presentation contexts the peer accepted.
  returned: when O(host) is given
  type: list
  elements: dict
  contains:
    context_id:
      description: The presentation context ID.
      type: int
      sample: 1
    abstract_syntax:
      description: The abstract syntax UID (Verification).
      type: str
      sample: 1.2.840.10008.1.1
    transfer_syntax:
      description: The transfer syntax UID the peer chose.
      type: str
      sample: 1.2.840.10008.1.2
    result:
      description: V(accepted).
      type: str
      sample: accepted
    result_code:
      description: The result code, V(0).
      type: int
      sample: 0
  sample:
    - context_id: 1
      abstract_syntax: 1.2.840.10008.1.1
      transfer_syntax: 1.2.840.10008.1.2
      result: accepted
      result_code: 0
rejected_contexts:
  description: The presentation contexts the peer rejected, in the shape of RV(accepted_contexts).
  returned: when O(host) is given
  type: list
  elements: dict
  contains:
    context_id:
      description: The presentation context ID.
      type: int
      sample: 1
    abstract_syntax:
      description: The abstract syntax UID (Verification).
      type: str
      sample: 1.2.840.10008.1.1
    transfer_syntax:
      description: V(null), as the peer accepted no transfer syntax.
      type: str
      sample: null
    result:
      description: Why, in the words of PS3.8 table 9-18.
      type: str
      sample: transfer syntax(es) not supported
    result_code:
      description: The result code of PS3.8 table 9-18, V(null) when the peer did not answer the context at all.
      type: int
      sample: 4
  sample: []
peer:
  description: What the peer is and what it announced when it accepted the association.
  returned: when O(host) is given
  type: dict
  contains:
    host:
      description: The host as given.
      type: str
      sample: pacs.example.org
    port:
      description: The port as given.
      type: int
      sample: 11112
    address:
      description: The IP address connected to.
      type: str
      sample: 10.20.30.40
    ae_title:
      description:
        - The AE title the peer put in its A-ASSOCIATE-AC, V(null) before that.
        - PS3.8 says this field is not to be tested, and DCMTK-based peers (storescp, Orthanc) copy
          back the called AE title they were sent, so it does not prove who answered. The
          implementation class UID and version name identify the peer's software.
      type: str
      sample: PACS
    max_pdu:
      description: The largest PDU the peer accepts, V(0) for unlimited.
      type: int
      sample: 16382
    implementation_class_uid:
      description: The peer's implementation class UID.
      type: str
      sample: 1.2.276.0.7230010.3.0.3.6.7
    implementation_version_name:
      description: The peer's implementation version name, if it sent one.
      type: str
      sample: OFFIS_DCMTK_367
  sample:
    host: pacs.example.org
    port: 11112
    address: 10.20.30.40
    ae_title: PACS
    max_pdu: 16382
    implementation_class_uid: 1.2.276.0.7230010.3.0.3.6.7
    implementation_version_name: OFFIS_DCMTK_367
timing:
  description: How long each step took, in milliseconds; V(null) for steps not reached.
  returned: when O(host) is given
  type: dict
  contains:
    connect_ms:
      description: Name resolution and TCP connection.
      type: float
      sample: 0.412
    tls_ms:
      description: The TLS handshake (with O(tls)), after the TCP connection.
      type: float
      sample: 3.871
    associate_ms:
      description: From the A-ASSOCIATE-RQ to the peer's answer.
      type: float
      sample: 2.153
    echo_ms:
      description: The round trip times of the answered C-ECHO requests (V(min), V(mean), V(max)).
      type: dict
      sample: {min: 1.021, mean: 1.182, max: 1.403}
    release_ms:
      description: From the A-RELEASE-RQ to the A-RELEASE-RP.
      type: float
      sample: 0.652
    total_ms:
      description: The whole run.
      type: float
      sample: 5.317
  sample:
    connect_ms: 0.412
    associate_ms: 2.153
    echo_ms: {min: 1.021, mean: 1.182, max: 1.403}
    release_ms: 0.652
    total_ms: 5.317
attempts:
  description: How many runs it took (more than one only with O(retries)).
  returned: when O(host) is given
  type: int
  sample: 1
tls:
  description:
    - The TLS session and the peer's certificate; V(null) without O(tls).
    - Filled as far as the run got; a certificate that failed verification is still described
      when it could be read.
  returned: when O(host) is given
  type: dict
  contains:
    version:
      description: The TLS version, for example V(TLSv1.3).
      type: str
      sample: TLSv1.3
    cipher:
      description: The cipher suite.
      type: str
      sample: TLS_AES_256_GCM_SHA384
    verified:
      description: Whether the peer's certificate chain and host name were verified (O(tls_verify)).
      type: bool
      sample: true
    error:
      description:
        - What failed, when the TLS connection did (RV(failure=tls)), otherwise V(null)
        - V(unknown_ca), V(hostname_mismatch), V(expired), V(not_yet_valid), V(bad_certificate),
          V(client_cert_required), V(client_cert_refused), V(protocol_version), V(not_tls),
          V(handshake_failed) or V(handshake_timeout).
      type: str
      sample: null
    peer_certificate:
      description: The peer's certificate, verified or not.
      type: dict
      contains:
        subject:
          description: The subject, as an RFC 4514 string.
          type: str
          sample: CN=pacs.example.org,O=Hospital
        issuer:
          description: The issuer, as an RFC 4514 string.
          type: str
          sample: CN=Hospital CA,O=Hospital
        serial:
          description: The serial number, in hexadecimal.
          type: str
          sample: 4F3A09B1
        not_before:
          description: Start of validity, ISO 8601, UTC.
          type: str
          sample: '2026-01-01T00:00:00+00:00'
        not_after:
          description: End of validity, ISO 8601, UTC.
          type: str
          sample: '2027-01-01T00:00:00+00:00'
        days_left:
          description: Whole days until RV(tls.peer_certificate.not_after); negative once expired.
          type: int
          sample: 31
        subject_alt_names:
          description: The names the certificate is valid for (V(DNS:name), V(IP:address)).
          type: list
          elements: str
          sample: ['DNS:pacs.example.org', 'IP:10.20.30.40']
  sample:
    version: TLSv1.3
    cipher: TLS_AES_256_GCM_SHA384
    verified: true
    error: null
    peer_certificate:
      subject: CN=pacs.example.org,O=Hospital
      issuer: CN=Hospital CA,O=Hospital
      serial: 4F3A09B1
      not_before: '2026-01-01T00:00:00+00:00'
      not_after: '2027-01-01T00:00:00+00:00'
      days_left: 31
      subject_alt_names: ['DNS:pacs.example.org']
user_identity:
  description: The user identity sent (never its secret); V(null) without one.
  returned: when O(host) is given
  type: dict
  contains:
    type:
      description: The O(identity_type) sent.
      type: str
      sample: username_password
    positive_response_requested:
      description: Whether a positive response was asked for (O(identity_positive_response)).
      type: bool
      sample: true
    positive_response:
      description: Whether the peer sent one; V(null) when none was asked for and none came, or no answer came.
      type: bool
      sample: true
  sample: {type: username_password, positive_response_requested: true, positive_response: true}
results:
  description:
    - One result per entry of O(targets), in the same order.
    - Each holds the keys returned for a single O(host) (RV(name), RV(ok), RV(failure),
      RV(exit_code), RV(msg), RV(hint), RV(status), RV(echoes), RV(association), RV(accepted_contexts),
      RV(rejected_contexts), RV(peer), RV(timing), RV(attempts), RV(tls), RV(user_identity)) plus
      RV(results[].required).
    - RV(results[].name) is the target's O(targets[].name), or V(host:port).
    - With O(result_detail=brief), only the keys listed there.
  returned: when O(targets) is given
  type: list
  elements: dict
  contains:
    name:
      description: The target's O(targets[].name), or V(host:port).
      type: str
      sample: archive
    required:
      description: Whether this target's failure fails the task.
      type: bool
      sample: true
    ok:
      description: Whether this target answered every C-ECHO with Success.
      type: bool
      sample: true
    msg:
      description: One line that says what happened with this target.
      type: str
      sample: 1 C-ECHO to ARCHIVE at pacs.example.org:11112 returned Success
    failure:
      description: The failure class of this target, or V(null) (see RV(failure)).
      type: str
      sample: connect
    exit_code:
      description: This target's exit code (see RV(exit_code)).
      type: int
      sample: 0
    status:
      description: The status of this target's last C-ECHO, or V(null) (see RV(status)).
      type: int
      sample: 0
    attempts:
      description: How many runs it took (see RV(attempts)).
      type: int
      sample: 1
    total_ms:
      description: With O(result_detail=brief), the milliseconds this target's run took (RV(timing.total_ms)).
      type: float
      sample: 5.317
  sample:
    - name: archive
      required: true
      ok: true
      failure: null
      exit_code: 0
      msg: 1 C-ECHO to ARCHIVE at pacs.example.org:11112 returned Success
      hint: null
      status: 0
      echoes: [{message_id: 1, status: 0, rtt_ms: 1.182}]
      association: {result: accepted, phase: release, released: true}
      accepted_contexts: [{context_id: 1, abstract_syntax: 1.2.840.10008.1.1, transfer_syntax: 1.2.840.10008.1.2,
                           result: accepted, result_code: 0}]
      rejected_contexts: []
      peer: {host: pacs.example.org, port: 11112, ae_title: ARCHIVE}
      timing: {connect_ms: 0.412, associate_ms: 2.153, echo_ms: {min: 1.182, mean: 1.182, max: 1.182},
               release_ms: 0.652, total_ms: 5.317}
      attempts: 1
failed_targets:
  description: The names of the targets that failed, required or not, in the order of O(targets).
  returned: when O(targets) is given
  type: list
  elements: str
  sample: [ct1]
failed_required_targets:
  description: The names of the required targets that failed; the task fails when this is not empty.
  returned: when O(targets) is given
  type: list
  elements: str
  sample: []
summary:
  description: Counts over O(targets).
  returned: when O(targets) is given
  type: dict
  contains:
    total:
      description: The number of targets.
      type: int
      sample: 3
    ok:
      description: How many answered every C-ECHO with Success.
      type: int
      sample: 2
    failed:
      description: How many failed.
      type: int
      sample: 1
    failed_required:
      description: How many required targets failed.
      type: int
      sample: 0
    failed_optional:
      description: How many optional targets failed.
      type: int
      sample: 1
    elapsed_ms:
      description: Milliseconds the whole check took.
      type: float
      sample: 10018.6
  sample: {total: 3, ok: 2, failed: 1, failed_required: 0, failed_optional: 1, elapsed_ms: 10018.6}
"""

import os
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dicom.network.plugins.module_utils import _options
from ansible_collections.dicom.network.plugins.module_utils._dul_codec import PYNETDICOM_IMPORT_ERROR
from ansible_collections.dicom.network.plugins.module_utils.echo_many import run_many, run_with_retries
from ansible_collections.dicom.network.plugins.module_utils.echo_request import (
    EchoRequest,
    RequestError,
    resolve_transfer_syntax,
    transfer_syntaxes_for,
    validate,
)
from ansible_collections.dicom.network.plugins.module_utils.echo_result import EchoResult, Failure

if PYNETDICOM_IMPORT_ERROR is None:
    PYNETDICOM_TRACEBACK = None
else:
    PYNETDICOM_TRACEBACK = "".join(
        traceback.format_exception(type(PYNETDICOM_IMPORT_ERROR), PYNETDICOM_IMPORT_ERROR,
                                   PYNETDICOM_IMPORT_ERROR.__traceback__)
    )

# The options of one run that an entry of `targets` may override (host, name and the
# transfer syntaxes are handled on their own).
RUN_OPTIONS = tuple(
    option.name for option in _options.for_face(_options.TARGET)
    if _options.REQUEST in option.faces and option.name not in ("host", "name", "transfer_syntaxes")
)
# Options of the module itself rather than of a run.
MODULE_OPTIONS = tuple(
    option.name for option in _options.for_face(_options.MODULE) if _options.TARGET not in option.faces
)
# How many failed targets a message names before it says "and N more".
MSG_TARGETS = 5


def argument_spec():
    """The argument spec, made from the option table (DOCUMENTATION is held equal to it by a unit test)."""
    spec = _options.argument_spec()
    spec["targets"] = {
        "type": "list", "elements": "dict", "options": _options.argument_spec(target=True),
        "mutually_exclusive": [["propose_ts", "transfer_syntaxes"]],
    }
    return spec


def _syntaxes(option, value):
    """Transfer syntaxes given as UIDs or keywords, as a tuple of UIDs."""
    uids = []
    for item in value:
        try:
            uids.append(resolve_transfer_syntax(str(item)))
        except ValueError as exc:
            raise RequestError(option, str(exc)) from None
    return tuple(uids)


def build_request(params, target=None, index=None):
    """The EchoRequest for the top-level options, or for one entry of ``targets``, and the names
    its errors use.

    A target's own values override the top-level ones. Errors name the option where the
    user wrote the bad value: ``calling_aet`` or ``targets[2].calling_aet``.
    """
    target = target or {}
    prefix = "" if index is None else f"targets[{index}]."
    names = {}
    values = {}
    for option in RUN_OPTIONS:
        if target.get(option) is not None:
            values[option] = target[option]
            names[option] = prefix + option
        else:
            values[option] = params[option]
    if target.get("transfer_syntaxes") is not None:
        names["transfer_syntaxes"] = prefix + "transfer_syntaxes"
        syntaxes = _syntaxes(names["transfer_syntaxes"], target["transfer_syntaxes"])
    elif target.get("propose_ts") is not None:
        syntaxes = transfer_syntaxes_for(target["propose_ts"])
    elif params["transfer_syntaxes"] is not None:
        syntaxes = _syntaxes("transfer_syntaxes", params["transfer_syntaxes"])
    else:
        syntaxes = transfer_syntaxes_for(params["propose_ts"])
    if index is None:
        host = params["host"]
    else:
        host = target["host"]
        names["host"] = prefix + "host"
    request = EchoRequest(host=host, transfer_syntaxes=syntaxes, name=target.get("name") or None,
                          **_env_secrets(values))
    return request, names


def _public(result):
    """A result as the module returns it: every key but ``msg``, which fail_json/exit_json take apart.

    The engine's ``warnings`` (an unverified TLS peer) go to Ansible's own warnings.
    """
    data = result.as_dict()
    data.pop("msg")
    data.pop("warnings")
    return data


def _warn(module, results, named):
    for result in results:
        for warning in result.warnings:
            module.warn(f"{result.name}: {warning}" if named else warning)


# A secret left out is taken from the environment of the host that runs the module, but only
# where it means something: a DICOM_PASSWORD exported for other tools must not turn every
# check without a user name into a usage error.
ENV_SECRETS = (("password", "username"), ("tls_key_password", "tls_key_file"))


def _env_secrets(values):
    for secret, needs in ENV_SECRETS:
        env = _options.BY_NAME[secret].env
        if values.get(secret) is None and values.get(needs) is not None and os.environ.get(env) is not None:
            values[secret] = os.environ[env]
    return values


def _usage_result(params, msg):
    """The result of a single-host run that never started, every key in place."""
    host = params.get("host") or ""
    port = params.get("port")
    result = EchoResult(name=EchoRequest(host=host, port=port).label, host=host, port=port)
    result.fail(Failure.USAGE, msg)
    result.summarise_echoes()
    return result


def _brief(result):
    """The verdict of one target (result_detail: brief): a few scalars instead of ~70 values."""
    return {
        "name": result.name,
        "ok": result.ok,
        "failure": result.failure.value if result.failure else None,
        "exit_code": result.exit_code,
        "msg": result.msg,
        "status": result.status,
        "attempts": result.attempts,
        "total_ms": result.timing["total_ms"],
    }


def _targets_result(results, required, elapsed_ms, detail="full"):
    items = []
    failed, failed_required, failed_optional = [], [], []
    for result, is_required in zip(results, required, strict=True):
        item = _brief(result) if detail == "brief" else result.as_dict()
        item.pop("warnings", None)
        # Never a `failed`, `changed` or `skipped` key here: Ansible would OR them into the task.
        item["required"] = is_required
        items.append(item)
        if not result.ok:
            failed.append(result)
            (failed_required if is_required else failed_optional).append(result)
    data = {
        "results": items,
        "failed_targets": [r.name for r in failed],
        "failed_required_targets": [r.name for r in failed_required],
        "summary": {
            "total": len(items),
            "ok": len(items) - len(failed),
            "failed": len(failed),
            "failed_required": len(failed_required),
            "failed_optional": len(failed_optional),
            "elapsed_ms": elapsed_ms,
        },
    }
    return data, failed_required, failed_optional


def _invocation(params):
    """The module arguments as the result's ``invocation`` shows them, each target with only the
    sub-options it sets: Ansible would list all ~30 of every target, most of them None (the
    task's value), 640 KB for 1,000 targets, scrubbed for secrets and carried back for nothing.
    Secrets are still masked: Ansible scrubs the whole result, this included."""
    args = dict(params)
    args["targets"] = [{k: v for k, v in target.items() if v is not None} for target in params["targets"]]
    return {"module_args": args}


def _listing(results):
    shown = ", ".join(f"{r.name} ({r.msg})" for r in results[:MSG_TARGETS])
    more = len(results) - MSG_TARGETS
    return shown + (f", and {more} more" if more > 0 else "")


def _plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def targets_msg(total, required_total, failed_required, failed_optional):
    """One line over all targets: which required ones failed, or that all is well."""
    if total == 0:
        return "no targets given: nothing to check"
    if failed_required:
        msg = (f"{len(failed_required)} of {_plural(required_total, 'required target')} failed: "
               f"{_listing(failed_required)}")
        if failed_optional:
            msg += f"; {_plural(len(failed_optional), 'optional target')} failed too"
        return msg
    ok = total - len(failed_optional)
    msg = f"{ok} of {_plural(total, 'target')} answered C-ECHO with Success"
    if failed_optional:
        msg += f"; {_plural(len(failed_optional), 'optional target')} failed: {_listing(failed_optional)}"
    return msg


def run_module(module):
    params = module.params
    single = params["targets"] is None
    for secret, _needs in ENV_SECRETS:
        value = os.environ.get(_options.BY_NAME[secret].env or "")
        if value:
            module.no_log_values.add(value)  # masked wherever Ansible prints

    if PYNETDICOM_IMPORT_ERROR is not None:
        msg = missing_required_lib("pynetdicom")
        extra = _public(_usage_result(params, msg)) if single else _targets_result([], [], 0.0)[0]
        module.fail_json(msg=msg, exception=PYNETDICOM_TRACEBACK, changed=False, **extra)

    # Every option is checked, by the engine's rules, before anything goes on the wire.
    try:
        _options.check({name: params[name] for name in MODULE_OPTIONS})
        if single:
            requests = [validate(*build_request(params))]
        else:
            requests = [validate(*build_request(params, target, i)) for i, target in enumerate(params["targets"])]
    except RequestError as exc:
        msg = str(exc)
        if single:
            module.fail_json(msg=msg, changed=False, **_public(_usage_result(params, msg)))
        data = _targets_result([], [], 0.0)[0]
        module.fail_json(msg=msg, changed=False, **data)

    if single:
        result = run_with_retries(requests[0], params["retries"], params["retry_delay"])
        data = _public(result)
        _warn(module, [result], named=False)
        if not result.ok:
            module.fail_json(msg=result.msg, changed=False, **data)
        module.exit_json(msg=result.msg, changed=False, **data)

    begin = time.monotonic()
    results = run_many(requests, params["concurrency"], params["retries"], params["retry_delay"])
    elapsed_ms = round((time.monotonic() - begin) * 1000.0, 3)
    required = [target["required"] for target in params["targets"]]
    data, failed_required, failed_optional = _targets_result(results, required, elapsed_ms, params["result_detail"])
    _warn(module, results, named=True)
    msg = targets_msg(len(results), sum(required), failed_required, failed_optional)
    data["invocation"] = _invocation(params)
    if failed_required:
        module.fail_json(msg=msg, changed=False, **data)
    if failed_optional:
        module.warn(f"{_plural(len(failed_optional), 'optional target')} failed: {_listing(failed_optional)}")
    module.exit_json(msg=msg, changed=False, **data)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[["host", "targets"], ["propose_ts", "transfer_syntaxes"]],
        required_one_of=[["host", "targets"]],
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
