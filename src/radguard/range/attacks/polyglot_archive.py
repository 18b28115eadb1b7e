"""A polyglot planted in the archive (CVE-2019-11687): a PE executable written into an object's preamble (T1027.009)."""

from __future__ import annotations

from radguard.range.attacks.kit import PE_STUB, Attack, Context, Outcome


def run(ctx: Context) -> Outcome:
    target = ctx.archive_files()[-1]
    data = bytearray(target.read_bytes())
    data[: len(PE_STUB)] = PE_STUB
    target.write_bytes(bytes(data))
    return Outcome(success=True, impact={"objects_altered": 1}, note=f"executable header in {target.name}")


ATTACK = Attack(
    name="polyglot-archive", title="Polyglot planted in the archive (CVE-2019-11687)",
    attack_ids=("T1027.009", "T1554"), precondition="write access to the archive's storage",
    objective="an object that is also a Windows executable", layers=("seal+audit", "backups"), run=run, archive=True)
