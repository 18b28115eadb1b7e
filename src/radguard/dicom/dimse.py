"""DIMSE command sets: a hand-written codec for group 0000 in implicit VR little endian
(PS3.7 §6.3.1, §9.3, Annex E), builders for common messages, and P-DATA fragmentation
(PS3.8 §9.3.5, Annex E.2). No I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from radguard.dicom.enums import NO_DATASET, CommandField, Priority, Status, StatusCategory, status_category
from radguard.dicom.pdu import PDV, PDataTF
from radguard.errors import ProtocolError

# command elements (PS3.7 Table E.1-1), by element number in group 0000
GROUP_LENGTH = 0x0000
AFFECTED_SOP_CLASS_UID = 0x0002
REQUESTED_SOP_CLASS_UID = 0x0003
COMMAND_FIELD = 0x0100
MESSAGE_ID = 0x0110
MESSAGE_ID_BEING_RESPONDED_TO = 0x0120
MOVE_DESTINATION = 0x0600
PRIORITY = 0x0700
COMMAND_DATA_SET_TYPE = 0x0800
STATUS = 0x0900
OFFENDING_ELEMENT = 0x0901
ERROR_COMMENT = 0x0902
ERROR_ID = 0x0903
AFFECTED_SOP_INSTANCE_UID = 0x1000
REQUESTED_SOP_INSTANCE_UID = 0x1001
EVENT_TYPE_ID = 0x1002
ATTRIBUTE_IDENTIFIER_LIST = 0x1005
ACTION_TYPE_ID = 0x1008
REMAINING_SUB_OPERATIONS = 0x1020
COMPLETED_SUB_OPERATIONS = 0x1021
FAILED_SUB_OPERATIONS = 0x1022
WARNING_SUB_OPERATIONS = 0x1023
MOVE_ORIGINATOR_AE = 0x1030
MOVE_ORIGINATOR_MESSAGE_ID = 0x1031

_UI = frozenset({AFFECTED_SOP_CLASS_UID, REQUESTED_SOP_CLASS_UID, AFFECTED_SOP_INSTANCE_UID,
                 REQUESTED_SOP_INSTANCE_UID})
_TEXT = frozenset({MOVE_DESTINATION, ERROR_COMMENT, MOVE_ORIGINATOR_AE})
_US = frozenset({COMMAND_FIELD, MESSAGE_ID, MESSAGE_ID_BEING_RESPONDED_TO, PRIORITY, COMMAND_DATA_SET_TYPE, STATUS,
                 ERROR_ID, EVENT_TYPE_ID, ACTION_TYPE_ID, REMAINING_SUB_OPERATIONS, COMPLETED_SUB_OPERATIONS,
                 FAILED_SUB_OPERATIONS, WARNING_SUB_OPERATIONS, MOVE_ORIGINATOR_MESSAGE_ID})
_AT = frozenset({OFFENDING_ELEMENT, ATTRIBUTE_IDENTIFIER_LIST})
_ELEMENT = struct.Struct("<HHL")

CommandValue = str | int | list[int] | bytes
#: the known Command Field values (read several times per relayed message)
_COMMAND_FIELDS: dict[int, CommandField] = {int(m): m for m in CommandField}


@dataclass
class Command:
    """A decoded DIMSE command set: group 0000 elements keyed by element number (PS3.7 §E.1).

    Values are ``str`` (UI, AE, LO), ``int`` (US, UL), ``list[int]`` (AT) or raw ``bytes``
    (elements radguard does not interpret). Group length is computed on encode, not stored.
    """

    elements: dict[int, CommandValue] = field(default_factory=dict)

    def _int(self, element: int) -> int | None:
        value = self.elements.get(element)
        return value if isinstance(value, int) else None

    def _str(self, element: int) -> str | None:
        value = self.elements.get(element)
        return value if isinstance(value, str) else None

    @property
    def command_field(self) -> CommandField | None:
        """The command, or None when absent or not a known value."""
        value = self._int(COMMAND_FIELD)
        return None if value is None else _COMMAND_FIELDS.get(value)  # CommandField(value), several times faster

    @property
    def message_id(self) -> int | None:
        return self._int(MESSAGE_ID)

    @property
    def message_id_being_responded_to(self) -> int | None:
        return self._int(MESSAGE_ID_BEING_RESPONDED_TO)

    @property
    def affected_sop_class_uid(self) -> str | None:
        return self._str(AFFECTED_SOP_CLASS_UID)

    @property
    def requested_sop_class_uid(self) -> str | None:
        return self._str(REQUESTED_SOP_CLASS_UID)

    @property
    def sop_class_uid(self) -> str | None:
        """Affected SOP class UID, else requested (N-GET/N-SET/N-ACTION/N-DELETE use the latter)."""
        return self.affected_sop_class_uid or self.requested_sop_class_uid

    @property
    def affected_sop_instance_uid(self) -> str | None:
        return self._str(AFFECTED_SOP_INSTANCE_UID)

    @property
    def requested_sop_instance_uid(self) -> str | None:
        return self._str(REQUESTED_SOP_INSTANCE_UID)

    @property
    def status(self) -> int | None:
        return self._int(STATUS)

    @property
    def status_category(self) -> StatusCategory | None:
        status = self.status
        return None if status is None else status_category(status)

    @property
    def move_destination(self) -> str | None:
        return self._str(MOVE_DESTINATION)

    @property
    def priority(self) -> int | None:
        return self._int(PRIORITY)

    @property
    def error_comment(self) -> str | None:
        return self._str(ERROR_COMMENT)

    @property
    def has_dataset(self) -> bool:
        """A data set follows unless Command Data Set Type is 0x0101 (PS3.7 §E.1)."""
        value = self._int(COMMAND_DATA_SET_TYPE)
        return value is not None and value != NO_DATASET

    @property
    def remaining_sub_operations(self) -> int | None:
        return self._int(REMAINING_SUB_OPERATIONS)

    @property
    def completed_sub_operations(self) -> int | None:
        return self._int(COMPLETED_SUB_OPERATIONS)

    @property
    def failed_sub_operations(self) -> int | None:
        return self._int(FAILED_SUB_OPERATIONS)

    @property
    def warning_sub_operations(self) -> int | None:
        return self._int(WARNING_SUB_OPERATIONS)

    @property
    def move_originator_ae(self) -> str | None:
        return self._str(MOVE_ORIGINATOR_AE)

    @property
    def move_originator_message_id(self) -> int | None:
        return self._int(MOVE_ORIGINATOR_MESSAGE_ID)

    def encode(self) -> bytes:
        """Encode as an implicit VR little endian command set with its group length (PS3.7 §6.3.1)."""
        return encode_command(self)


def _encode_value(element: int, value: CommandValue) -> bytes:
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        raw = value.encode("ascii", "replace")
        if len(raw) % 2:
            raw += b"\x00" if element in _UI else b" "
    elif isinstance(value, list):
        raw = b"".join(struct.pack("<HH", tag >> 16, tag & 0xFFFF) for tag in value)
    elif element in _US:
        raw = struct.pack("<H", value & 0xFFFF)
    else:
        raw = struct.pack("<L", value & 0xFFFFFFFF)
    return _ELEMENT.pack(0x0000, element, len(raw)) + raw


def encode_command(command: Command) -> bytes:
    """Encode a command set (PS3.7 §6.3.1, §E.1); elements in ascending tag order, group length first."""
    body = b"".join(_encode_value(el, command.elements[el]) for el in sorted(command.elements) if el != GROUP_LENGTH)
    return _ELEMENT.pack(0x0000, GROUP_LENGTH, 4) + struct.pack("<L", len(body)) + body


def decode_command(data: bytes) -> Command:
    """Decode an implicit VR little endian command set (PS3.7 §6.3.1, §E.1).

    Raises ProtocolError for truncated elements, elements outside group 0000, or a command
    set without a Command Field.
    """
    elements: dict[int, CommandValue] = {}
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 8:
            raise ProtocolError(f"command set: truncated element header at offset {pos}")
        group, element, length = _ELEMENT.unpack_from(data, pos)
        pos += 8
        if group != 0x0000:
            raise ProtocolError(f"command set: element ({group:04X},{element:04X}) outside group 0000 at offset "
                                f"{pos - 8}")
        if length > end - pos:
            raise ProtocolError(f"command set: element (0000,{element:04X}) length {length} exceeds the "
                                f"{end - pos} bytes left")
        raw = data[pos:pos + length]
        pos += length
        value: CommandValue
        if element in _UI or element in _TEXT:
            value = raw.decode("latin-1").strip(" \x00")
        elif element in _US and length == 2:
            value = struct.unpack("<H", raw)[0]
        elif element == GROUP_LENGTH and length == 4:
            continue
        elif element in _AT and length % 4 == 0:
            value = [(g << 16) | e for g, e in struct.iter_unpack("<HH", raw)]
        else:
            value = raw
        elements[element] = value
    command = Command(elements)
    if COMMAND_FIELD not in elements or not isinstance(elements[COMMAND_FIELD], int):
        raise ProtocolError("command set has no valid Command Field (0000,0100)")
    return command


def _command(field_: CommandField, **values: CommandValue | None) -> Command:
    elements: dict[int, CommandValue] = {COMMAND_FIELD: int(field_)}
    names = {"sop_class": AFFECTED_SOP_CLASS_UID, "requested_sop_class": REQUESTED_SOP_CLASS_UID,
             "message_id": MESSAGE_ID, "responded_to": MESSAGE_ID_BEING_RESPONDED_TO,
             "destination": MOVE_DESTINATION, "priority": PRIORITY, "status": STATUS,
             "sop_instance": AFFECTED_SOP_INSTANCE_UID, "requested_sop_instance": REQUESTED_SOP_INSTANCE_UID,
             "originator_ae": MOVE_ORIGINATOR_AE, "originator_id": MOVE_ORIGINATOR_MESSAGE_ID,
             "error_comment": ERROR_COMMENT, "remaining": REMAINING_SUB_OPERATIONS,
             "completed": COMPLETED_SUB_OPERATIONS, "failed": FAILED_SUB_OPERATIONS,
             "warning": WARNING_SUB_OPERATIONS, "dataset_type": COMMAND_DATA_SET_TYPE}
    for key, value in values.items():
        if value is not None:
            elements[names[key]] = value
    elements.setdefault(COMMAND_DATA_SET_TYPE, NO_DATASET)
    return Command(elements)


#: Command Data Set Type value radguard sends when a data set follows
DATASET_PRESENT = 0x0001


def c_echo_rq(message_id: int, sop_class: str = "1.2.840.10008.1.1") -> Command:
    """C-ECHO-RQ (PS3.7 §9.3.5.1)."""
    return _command(CommandField.C_ECHO_RQ, sop_class=sop_class, message_id=message_id)


def c_echo_rsp(message_id_being_responded_to: int, status: int = Status.SUCCESS,
               sop_class: str = "1.2.840.10008.1.1") -> Command:
    """C-ECHO-RSP (PS3.7 §9.3.5.2)."""
    return _command(CommandField.C_ECHO_RSP, sop_class=sop_class, responded_to=message_id_being_responded_to,
                    status=int(status))


def c_store_rq(message_id: int, sop_class: str, sop_instance: str, move_originator_ae: str | None = None,
               move_originator_id: int | None = None, priority: Priority = Priority.MEDIUM) -> Command:
    """C-STORE-RQ (PS3.7 §9.3.1.1); a data set follows."""
    return _command(CommandField.C_STORE_RQ, sop_class=sop_class, message_id=message_id, priority=int(priority),
                    sop_instance=sop_instance, originator_ae=move_originator_ae,
                    originator_id=move_originator_id, dataset_type=DATASET_PRESENT)


def c_store_rsp(message_id_being_responded_to: int, sop_class: str | None, sop_instance: str | None,
                status: int = Status.SUCCESS, error_comment: str | None = None) -> Command:
    """C-STORE-RSP (PS3.7 §9.3.1.2)."""
    return _command(CommandField.C_STORE_RSP, sop_class=sop_class, responded_to=message_id_being_responded_to,
                    sop_instance=sop_instance, status=int(status), error_comment=error_comment)


def c_find_rq(message_id: int, sop_class: str, priority: Priority = Priority.MEDIUM) -> Command:
    """C-FIND-RQ (PS3.7 §9.3.2.1); the identifier data set follows."""
    return _command(CommandField.C_FIND_RQ, sop_class=sop_class, message_id=message_id, priority=int(priority),
                    dataset_type=DATASET_PRESENT)


def c_get_rq(message_id: int, sop_class: str, priority: Priority = Priority.MEDIUM) -> Command:
    """C-GET-RQ (PS3.7 §9.3.3.1); the identifier data set follows."""
    return _command(CommandField.C_GET_RQ, sop_class=sop_class, message_id=message_id, priority=int(priority),
                    dataset_type=DATASET_PRESENT)


def c_move_rq(message_id: int, sop_class: str, destination: str, priority: Priority = Priority.MEDIUM) -> Command:
    """C-MOVE-RQ (PS3.7 §9.3.4.1); the identifier data set follows."""
    return _command(CommandField.C_MOVE_RQ, sop_class=sop_class, message_id=message_id, priority=int(priority),
                    destination=destination, dataset_type=DATASET_PRESENT)


def c_cancel_rq(message_id_being_responded_to: int) -> Command:
    """C-CANCEL-RQ (PS3.7 §9.3.2.3): cancels the operation with that message id."""
    return _command(CommandField.C_CANCEL_RQ, responded_to=message_id_being_responded_to)


def response(request: Command, status: int, *, error_comment: str | None = None, has_dataset: bool = False,
             sub_operations: tuple[int, int, int, int] | None = None) -> Command:
    """Generic response to ``request`` with ``status`` (PS3.7 §9.3, Annex C).

    Copies the affected SOP class/instance from the request, answers its message id, and
    optionally carries (remaining, completed, failed, warning) sub-operation counts.
    """
    field_ = request.command_field
    if field_ is None or not field_.is_request or field_ is CommandField.C_CANCEL_RQ:
        raise ProtocolError("response() needs a request command other than C-CANCEL")
    counts = sub_operations or (None, None, None, None)
    return _command(field_.response, sop_class=request.sop_class_uid,
                    responded_to=request.message_id,
                    sop_instance=request.affected_sop_instance_uid or request.requested_sop_instance_uid,
                    status=int(status), error_comment=error_comment,
                    dataset_type=DATASET_PRESENT if has_dataset else NO_DATASET,
                    remaining=counts[0], completed=counts[1], failed=counts[2], warning=counts[3])


#: PDV payload used when the peer announced an unlimited maximum length (PS3.8 Annex D.1: 0 = unlimited)
UNLIMITED_CHUNK = 1 << 20
_PDV_OVERHEAD = 6  # 4-byte PDV length, context id, message control header (PS3.8 §9.3.5.1)


def _payload_size(max_pdu_length: int) -> int:
    if max_pdu_length == 0:
        return UNLIMITED_CHUNK
    if max_pdu_length <= _PDV_OVERHEAD:
        raise ValueError(f"maximum PDU length {max_pdu_length} leaves no room for data")
    return max_pdu_length - _PDV_OVERHEAD


def _pdus(context_id: int, data: bytes, is_command: bool, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    n = len(data)
    pos = 0
    while True:
        chunk = view[pos:pos + size]
        pos += size
        yield PDataTF([PDV(context_id, is_command, pos >= n, bytes(chunk))]).encode()
        if pos >= n:
            return


def fragment(context_id: int, command: bytes, dataset: bytes | None, max_pdu_length: int) -> list[bytes]:
    """P-DATA-TF PDUs carrying one whole message, one PDV per PDU (PS3.8 §9.3.5, Annex E.2).

    ``max_pdu_length`` is the peer's Maximum Length Received (0 = unlimited).
    """
    size = _payload_size(max_pdu_length)
    out = list(_pdus(context_id, command, True, size))
    if dataset is not None:
        out.extend(_pdus(context_id, dataset, False, size))
    return out


def fragment_stream(context_id: int, chunks: Iterable[bytes], max_pdu_length: int) -> Iterator[bytes]:
    """P-DATA-TF PDUs for a data set given as an iterable of chunks (for data sets streamed from disk).

    The last PDV carries the "last fragment" bit; an empty iterable yields one empty last fragment.
    """
    size = _payload_size(max_pdu_length)
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) > size:
            yield PDataTF([PDV(context_id, False, False, bytes(buf[:size]))]).encode()
            del buf[:size]
    yield PDataTF([PDV(context_id, False, True, bytes(buf))]).encode()
