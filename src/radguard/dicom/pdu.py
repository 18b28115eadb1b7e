"""PDU codecs of the DICOM upper layer (PS3.8 §9.3.2-9.3.8).

Every PDU is a dataclass with ``encode() -> bytes``; :func:`decode_pdu` turns a PDU
body back into one, raising :class:`~radguard.errors.ProtocolError` with a clear
message on malformed input. :class:`~radguard.dicom.framing.PDUFramer` cuts a byte stream
into PDU bodies. Nothing here does I/O.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Union

from radguard.dicom.enums import (
    AbortReason,
    AbortSource,
    ContextResult,
    ItemType,
    PDUType,
    RejectResult,
    RejectSource,
)
from radguard.dicom.uids import (
    APPLICATION_CONTEXT,
    RADGUARD_IMPLEMENTATION_CLASS_UID,
    RADGUARD_IMPLEMENTATION_VERSION,
)
from radguard.errors import ProtocolError

_ABORT_REASONS = frozenset(int(r) for r in AbortReason)
_HDR = struct.Struct(">BBL")
_ITEM = struct.Struct(">BBH")
#: fixed part of an A-ASSOCIATE-RQ/AC body: version, reserved, called AE, calling AE, 32 reserved (PS3.8 §9.3.2)
_ASSOC_FIXED = 68


def _text(raw: bytes) -> str:
    """Decode a UID/AE/name field: default repertoire, tolerant of hostile bytes, padding stripped."""
    return raw.decode("latin-1").strip(" \x00")


def _ae(value: str) -> bytes:
    raw = value.encode("ascii", "replace")[:16]
    return raw.ljust(16, b" ")


def _uid(value: str) -> bytes:
    return value.encode("ascii", "replace")


def _item(item_type: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ProtocolError(f"item 0x{item_type:02X} too long ({len(value)} bytes)")
    return _ITEM.pack(item_type, 0, len(value)) + value


def _pdu(pdu_type: int, body: bytes) -> bytes:
    return _HDR.pack(pdu_type, 0, len(body)) + body


def _iter_items(data: bytes, where: str) -> list[tuple[int, bytes]]:
    """Split ``data`` into (type, value) items with 2-byte lengths (PS3.8 §9.3.2.2)."""
    items: list[tuple[int, bytes]] = []
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 4:
            raise ProtocolError(f"{where}: truncated item header at offset {pos}")
        item_type, _, length = _ITEM.unpack_from(data, pos)
        pos += 4
        if pos + length > end:
            raise ProtocolError(f"{where}: item 0x{item_type:02X} length {length} exceeds the {end - pos} bytes left")
        items.append((item_type, data[pos:pos + length]))
        pos += length
    return items


@dataclass
class PresentationContext:
    """A presentation context: in a request, abstract syntax + proposed transfer syntaxes (PS3.8 §9.3.2.2);
    in an accept, the result and the one accepted transfer syntax (§9.3.3.2)."""

    id: int
    abstract_syntax: str | None
    transfer_syntaxes: list[str]
    result: ContextResult | None = None

    @property
    def accepted(self) -> bool:
        return self.result is ContextResult.ACCEPTANCE


@dataclass
class RoleSelection:
    """SCP/SCU role selection sub-item (PS3.7 §D.3.3.4)."""

    sop_class_uid: str
    scu_role: bool
    scp_role: bool


@dataclass
class ExtendedNegotiation:
    """SOP class extended negotiation sub-item (PS3.7 §D.3.3.5): application information kept raw."""

    sop_class_uid: str
    info: bytes


@dataclass
class UserIdentity:
    """User identity negotiation request sub-item (PS3.7 §D.3.3.7); the secondary field (passcode) never repr'd."""

    type: int
    positive_response_requested: bool
    primary: bytes
    secondary: bytes = field(default=b"", repr=False)


@dataclass
class _AssociateBase:
    called_ae: str
    calling_ae: str
    contexts: list[PresentationContext]
    max_pdu_length: int | None = 16384
    implementation_class_uid: str | None = RADGUARD_IMPLEMENTATION_CLASS_UID
    implementation_version_name: str | None = RADGUARD_IMPLEMENTATION_VERSION
    application_context: str = APPLICATION_CONTEXT
    protocol_version: int = 1
    async_ops: tuple[int, int] | None = None  # (max invoked, max performed)
    role_selections: list[RoleSelection] = field(default_factory=list)
    extended_negotiation: list[ExtendedNegotiation] = field(default_factory=list)
    unknown_user_items: list[tuple[int, bytes]] = field(default_factory=list)
    unknown_items: list[tuple[int, bytes]] = field(default_factory=list)

    _TYPE: ClassVar[PDUType] = PDUType.ASSOCIATE_RQ

    def context(self, context_id: int) -> PresentationContext | None:
        """The presentation context with this id, if any."""
        for ctx in self.contexts:
            if ctx.id == context_id:
                return ctx
        return None

    def _encode_context(self, ctx: PresentationContext) -> bytes:
        sub = [_item(ItemType.ABSTRACT_SYNTAX, _uid(ctx.abstract_syntax or ""))]
        sub.extend(_item(ItemType.TRANSFER_SYNTAX, _uid(ts)) for ts in ctx.transfer_syntaxes)
        return _item(ItemType.PRESENTATION_CONTEXT_RQ, bytes((ctx.id, 0, 0, 0)) + b"".join(sub))

    def _user_items(self) -> list[bytes]:
        out: list[bytes] = []
        if self.max_pdu_length is not None:
            out.append(_item(ItemType.MAXIMUM_LENGTH, struct.pack(">L", self.max_pdu_length)))
        if self.implementation_class_uid is not None:
            out.append(_item(ItemType.IMPLEMENTATION_CLASS_UID, _uid(self.implementation_class_uid)))
        if self.async_ops is not None:
            out.append(_item(ItemType.ASYNCHRONOUS_OPERATIONS_WINDOW, struct.pack(">HH", *self.async_ops)))
        for role in self.role_selections:
            uid = _uid(role.sop_class_uid)
            out.append(_item(ItemType.ROLE_SELECTION, struct.pack(">H", len(uid)) + uid
                             + bytes((int(role.scu_role), int(role.scp_role)))))
        if self.implementation_version_name is not None:
            out.append(_item(ItemType.IMPLEMENTATION_VERSION_NAME, _uid(self.implementation_version_name)))
        for ext in self.extended_negotiation:
            uid = _uid(ext.sop_class_uid)
            out.append(_item(ItemType.SOP_CLASS_EXTENDED_NEGOTIATION, struct.pack(">H", len(uid)) + uid + ext.info))
        return out

    def _extra_user_items(self) -> list[bytes]:
        return []

    def encode(self) -> bytes:
        """Encode as an A-ASSOCIATE-RQ/AC PDU (PS3.8 §9.3.2 / §9.3.3)."""
        parts = [struct.pack(">HH", self.protocol_version, 0), _ae(self.called_ae), _ae(self.calling_ae),
                 bytes(32), _item(ItemType.APPLICATION_CONTEXT, _uid(self.application_context))]
        parts.extend(self._encode_context(ctx) for ctx in self.contexts)
        parts.extend(_item(t, v) for t, v in self.unknown_items)
        user = self._user_items() + self._extra_user_items() + [_item(t, v) for t, v in self.unknown_user_items]
        parts.append(_item(ItemType.USER_INFORMATION, b"".join(user)))
        return _pdu(self._TYPE, b"".join(parts))


@dataclass
class AssociateRequest(_AssociateBase):
    """A-ASSOCIATE-RQ PDU (PS3.8 §9.3.2)."""

    user_identity: UserIdentity | None = None

    def _extra_user_items(self) -> list[bytes]:
        ident = self.user_identity
        if ident is None:
            return []
        value = (bytes((ident.type, int(ident.positive_response_requested)))
                 + struct.pack(">H", len(ident.primary)) + ident.primary
                 + struct.pack(">H", len(ident.secondary)) + ident.secondary)
        return [_item(ItemType.USER_IDENTITY_RQ, value)]


@dataclass
class AssociateAccept(_AssociateBase):
    """A-ASSOCIATE-AC PDU (PS3.8 §9.3.3); each context carries its result."""

    user_identity_response: bytes | None = None

    _TYPE: ClassVar[PDUType] = PDUType.ASSOCIATE_AC

    def _encode_context(self, ctx: PresentationContext) -> bytes:
        result = ContextResult.ACCEPTANCE if ctx.result is None else ctx.result
        ts = ctx.transfer_syntaxes[0] if ctx.transfer_syntaxes else ""
        return _item(ItemType.PRESENTATION_CONTEXT_AC,
                     bytes((ctx.id, 0, int(result), 0)) + _item(ItemType.TRANSFER_SYNTAX, _uid(ts)))

    def _extra_user_items(self) -> list[bytes]:
        if self.user_identity_response is None:
            return []
        resp = self.user_identity_response
        return [_item(ItemType.USER_IDENTITY_AC, struct.pack(">H", len(resp)) + resp)]


@dataclass
class AssociateReject:
    """A-ASSOCIATE-RJ PDU (PS3.8 §9.3.4); ``reason`` depends on ``source`` (see enums.reject_reason_name)."""

    result: RejectResult
    source: RejectSource
    reason: int

    def encode(self) -> bytes:
        return _pdu(PDUType.ASSOCIATE_RJ, bytes((0, int(self.result), int(self.source), int(self.reason))))


@dataclass
class PDV:
    """A presentation data value item (PS3.8 §9.3.5.1, Annex E.2 message control header)."""

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes

    def encode(self) -> bytes:
        header = (1 if self.is_command else 0) | (2 if self.is_last else 0)
        return struct.pack(">LBB", len(self.data) + 2, self.context_id, header) + self.data


@dataclass
class PDataTF:
    """P-DATA-TF PDU (PS3.8 §9.3.5)."""

    pdvs: list[PDV]

    def encode(self) -> bytes:
        return _pdu(PDUType.P_DATA_TF, b"".join(p.encode() for p in self.pdvs))


@dataclass
class ReleaseRequest:
    """A-RELEASE-RQ PDU (PS3.8 §9.3.6)."""

    def encode(self) -> bytes:
        return _pdu(PDUType.RELEASE_RQ, bytes(4))


@dataclass
class ReleaseResponse:
    """A-RELEASE-RP PDU (PS3.8 §9.3.7)."""

    def encode(self) -> bytes:
        return _pdu(PDUType.RELEASE_RP, bytes(4))


@dataclass
class Abort:
    """A-ABORT PDU (PS3.8 §9.3.8)."""

    source: AbortSource = AbortSource.SERVICE_USER
    reason: AbortReason | int = AbortReason.NOT_SPECIFIED

    def encode(self) -> bytes:
        return _pdu(PDUType.ABORT, bytes((0, 0, int(self.source), int(self.reason))))


PDU = Union[AssociateRequest, AssociateAccept, AssociateReject, PDataTF, ReleaseRequest, ReleaseResponse, Abort]  # noqa: UP007


def _decode_user_info(pdu: _AssociateBase, data: bytes, identity: list[UserIdentity | bytes]) -> None:
    pdu.max_pdu_length = None
    pdu.implementation_class_uid = None
    pdu.implementation_version_name = None
    for sub_type, value in _iter_items(data, "user information"):
        if sub_type == ItemType.MAXIMUM_LENGTH and len(value) == 4:
            pdu.max_pdu_length = struct.unpack(">L", value)[0]
        elif sub_type == ItemType.IMPLEMENTATION_CLASS_UID:
            pdu.implementation_class_uid = _text(value)
        elif sub_type == ItemType.IMPLEMENTATION_VERSION_NAME:
            pdu.implementation_version_name = _text(value)
        elif sub_type == ItemType.ASYNCHRONOUS_OPERATIONS_WINDOW and len(value) == 4:
            invoked, performed = struct.unpack(">HH", value)
            pdu.async_ops = (invoked, performed)
        elif sub_type == ItemType.ROLE_SELECTION and len(value) >= 2:
            n = struct.unpack_from(">H", value)[0]
            if len(value) != n + 4:
                raise ProtocolError("role selection sub-item has an inconsistent UID length")
            pdu.role_selections.append(RoleSelection(_text(value[2:2 + n]), bool(value[2 + n]), bool(value[3 + n])))
        elif sub_type == ItemType.SOP_CLASS_EXTENDED_NEGOTIATION and len(value) >= 2:
            n = struct.unpack_from(">H", value)[0]
            if len(value) < n + 2:
                raise ProtocolError("extended negotiation sub-item has an inconsistent UID length")
            pdu.extended_negotiation.append(ExtendedNegotiation(_text(value[2:2 + n]), value[2 + n:]))
        elif sub_type == ItemType.USER_IDENTITY_RQ and len(value) >= 4:
            n = struct.unpack_from(">H", value, 2)[0]
            if len(value) < 6 + n:
                raise ProtocolError("user identity sub-item has an inconsistent primary field length")
            m = struct.unpack_from(">H", value, 4 + n)[0]
            if len(value) != 6 + n + m:
                raise ProtocolError("user identity sub-item has an inconsistent secondary field length")
            identity.append(UserIdentity(value[0], bool(value[1]), value[4:4 + n], value[6 + n:6 + n + m]))
        elif sub_type == ItemType.USER_IDENTITY_AC and len(value) >= 2:
            n = struct.unpack_from(">H", value)[0]
            identity.append(value[2:2 + n])
        else:
            pdu.unknown_user_items.append((sub_type, value))


def _decode_associate(pdu_type: int, body: bytes) -> AssociateRequest | AssociateAccept:
    name = "A-ASSOCIATE-RQ" if pdu_type == PDUType.ASSOCIATE_RQ else "A-ASSOCIATE-AC"
    if len(body) < _ASSOC_FIXED:
        raise ProtocolError(f"{name} body is {len(body)} bytes, shorter than its fixed {_ASSOC_FIXED}-byte part")
    version = struct.unpack_from(">H", body)[0]
    called, calling = _text(body[4:20]), _text(body[20:36])
    pdu: AssociateRequest | AssociateAccept
    if pdu_type == PDUType.ASSOCIATE_RQ:
        pdu = AssociateRequest(called, calling, [], protocol_version=version)
    else:
        pdu = AssociateAccept(called, calling, [], protocol_version=version)
    identity: list[UserIdentity | bytes] = []
    app_context: str | None = None
    seen_user_info = False
    for item_type, value in _iter_items(body[_ASSOC_FIXED:], name):
        if item_type == ItemType.APPLICATION_CONTEXT:
            app_context = _text(value)
        elif item_type in (ItemType.PRESENTATION_CONTEXT_RQ, ItemType.PRESENTATION_CONTEXT_AC):
            if len(value) < 4:
                raise ProtocolError(f"{name}: presentation context item shorter than 4 bytes")
            expected = (ItemType.PRESENTATION_CONTEXT_RQ if pdu_type == PDUType.ASSOCIATE_RQ
                        else ItemType.PRESENTATION_CONTEXT_AC)
            if item_type != expected:  # PS3.8 §9.3.2.2 / §9.3.3.2: 20H items in a request, 21H in an accept
                raise ProtocolError(f"{name}: presentation context {value[0]} is item type {item_type:02X}H, "
                                    f"not {int(expected):02X}H")
            subs = _iter_items(value[4:], "presentation context")
            abstract = [_text(v) for t, v in subs if t == ItemType.ABSTRACT_SYNTAX]
            transfer = [_text(v) for t, v in subs if t == ItemType.TRANSFER_SYNTAX]
            if item_type == ItemType.PRESENTATION_CONTEXT_RQ:
                if len(abstract) != 1 or not transfer:
                    raise ProtocolError(f"{name}: presentation context {value[0]} needs one abstract syntax "
                                        "and at least one transfer syntax")
                pdu.contexts.append(PresentationContext(value[0], abstract[0], transfer))
            else:
                try:
                    result = ContextResult(value[2])
                except ValueError:
                    raise ProtocolError(f"{name}: presentation context {value[0]} has invalid result "
                                        f"{value[2]}") from None
                pdu.contexts.append(PresentationContext(value[0], None, transfer[:1], result))
        elif item_type == ItemType.USER_INFORMATION:
            seen_user_info = True
            _decode_user_info(pdu, value, identity)
        else:
            pdu.unknown_items.append((item_type, value))
    if app_context is None:
        raise ProtocolError(f"{name} has no application context item")
    pdu.application_context = app_context
    if not seen_user_info:
        pdu.max_pdu_length = pdu.implementation_class_uid = pdu.implementation_version_name = None
    for ident in identity:
        if isinstance(pdu, AssociateRequest) and isinstance(ident, UserIdentity):
            pdu.user_identity = ident
        elif isinstance(pdu, AssociateAccept) and isinstance(ident, bytes):
            pdu.user_identity_response = ident
    return pdu


def decode_pdata(body: bytes | memoryview) -> PDataTF:
    """Decode a P-DATA-TF body into its PDVs (PS3.8 §9.3.5); PDV values are always ``bytes``."""
    pdvs: list[PDV] = []
    pos, end = 0, len(body)
    if end == 0:
        raise ProtocolError("P-DATA-TF carries no PDV")
    while pos < end:
        if end - pos < 6:
            raise ProtocolError(f"P-DATA-TF: truncated PDV header at offset {pos}")
        length = struct.unpack_from(">L", body, pos)[0]
        if length < 2 or pos + 4 + length > end:
            raise ProtocolError(f"P-DATA-TF: PDV length {length} at offset {pos} inconsistent with the "
                                f"{end - pos - 4} bytes left")
        header = body[pos + 5]
        if header & 0xFC:
            raise ProtocolError(f"P-DATA-TF: reserved bits set in message control header 0x{header:02X}")
        pdvs.append(PDV(body[pos + 4], bool(header & 1), bool(header & 2), bytes(body[pos + 6:pos + 4 + length])))
        pos += 4 + length
    return PDataTF(pdvs)


def decode_pdu(pdu_type: int, body: bytes) -> PDU:
    """Decode a PDU body of the given type (PS3.8 §9.3); raises ProtocolError on malformed input."""
    if pdu_type in (PDUType.ASSOCIATE_RQ, PDUType.ASSOCIATE_AC):
        return _decode_associate(pdu_type, body)
    if pdu_type == PDUType.P_DATA_TF:
        return decode_pdata(body)
    if pdu_type in (PDUType.ASSOCIATE_RJ, PDUType.ABORT, PDUType.RELEASE_RQ, PDUType.RELEASE_RP):
        if len(body) != 4:
            raise ProtocolError(f"{PDUType(pdu_type).name} body must be 4 bytes, got {len(body)}")
        if pdu_type == PDUType.RELEASE_RQ:
            return ReleaseRequest()
        if pdu_type == PDUType.RELEASE_RP:
            return ReleaseResponse()
        if pdu_type == PDUType.ABORT:
            try:
                source = AbortSource(body[2])
            except ValueError:
                raise ProtocolError(f"A-ABORT has invalid source {body[2]}") from None
            reason: AbortReason | int = AbortReason(body[3]) if body[3] in _ABORT_REASONS else body[3]
            return Abort(source, reason)
        try:
            return AssociateReject(RejectResult(body[1]), RejectSource(body[2]), body[3])
        except ValueError:
            raise ProtocolError(f"A-ASSOCIATE-RJ has invalid result {body[1]} or source {body[2]}") from None
    raise ProtocolError(f"unknown PDU type 0x{pdu_type:02X}")
