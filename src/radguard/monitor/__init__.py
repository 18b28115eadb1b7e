"""Passive DICOM network monitoring: ``radguard pcap FILE...`` and ``radguard monitor --interface IF``.

Pipeline (one pass, bounded memory per connection)::

    capture.read_frames  ->  decode.decode_segment  ->  analyzer.Analyzer (flow table, protocol by content)
      -> tcp.Reassembler (order, retransmissions, gaps)  ->  conversation.DicomConversation
      (the shared sans-io upper layer, radguard.dicom.ul, in OBSERVER role)  ->  records
      -> detections (one module per rule, tunable thresholds, chosen by profile)  ->  findings

Records (JSON objects; never PHI values, SOP instance UIDs as keyed hashes):

``kind: "association"`` - ``uid`` (``C<n>``), ``ts``/``ts_end`` (ISO 8601 UTC), ``client``/``client_port``,
``server``/``server_port``, ``calling_ae``, ``called_ae``, ``result`` (accepted, rejected, aborted,
incomplete, unknown for a capture started mid-association, encrypted for TLS), ``reject`` (result,
source, reason), ``contexts`` (id, abstract syntax, transfer syntax, result), implementation class
UID/version of both sides, ``max_pdu_requestor``/``max_pdu_acceptor``, ``user_identity`` (type only),
``end`` (released, rejected, aborted, open), ``abort``, ``dimse_count``, ``commands`` (per service),
``objects_stored``, ``bytes_client``/``bytes_server``, ``partial``, ``gaps``, ``skipped_bytes``,
``violations`` (by, message, offset), ``phi_attributes`` (keyword -> data sets), ``tls`` (version,
cipher suite, server name, certificate subject when visible: TLS <= 1.2).

``kind: "dimse"`` - one per operation, request and response merged: ``command`` (``"C-STORE"``...),
``issuer`` (requestor/acceptor), ``message_id``, ``context_id``, ``sop_class``, ``sop_instance``
(``hmac:...``), ``priority``, ``move_destination``, ``move_originator_ae``, ``status`` (int, final),
``status_category``, ``responses``, ``matches`` (C-FIND pending responses with an identifier),
``sub_operations`` (remaining/completed/failed/warning), ``request_bytes``/``response_bytes``,
``objects``, ``query`` (level, restrictive/wildcard keys by keyword, broad), ``phi_attributes``,
``malformed_dataset``, ``inspection`` (archive-check verdicts on C-STORE data sets), ``cancelled``,
``complete``.

``kind: "http"`` - one per HTTP exchange on a web port (:mod:`radguard.monitor.http`): ``method``, ``api``
(qido-rs, wado-rs, stow-rs, rest, ...), ``resource`` (UIDs as ``{uid}``), ``query`` (identifying values as
keyed hashes), ``status``, body sizes, ``parts``, ``auth`` scheme, ``auth_user``, ``auth_hash`` (never the
password), ``uploads`` and their ``inspection``.

``kind: "connection"`` - TCP connections that carried something other than DICOM to a DICOM port,
and connection attempts that were refused or never answered: ``state``, ``protocol``, ``dicom_port``.
"""
