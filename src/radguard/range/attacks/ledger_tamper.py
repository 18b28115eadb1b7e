"""Ledger tampering: an image is edited and its ledger entry rewritten in the store to match (T1565.001, T1070).

The ledger's Merkle root is signed: a rewritten entry no longer matches the signature.
"""

from __future__ import annotations

import sqlite3

from radguard.range.attacks.kit import Attack, Context, Outcome, digest, pixel_files, tamper_pixels


def run(ctx: Context) -> Outcome:
    target = pixel_files(ctx.archive_files())[0]
    tamper_pixels(target)
    stat = target.stat()
    con = sqlite3.connect(ctx.st.db, timeout=30)
    try:
        old = con.execute("SELECT file_sha256, size, mtime_ns FROM archive_entries WHERE path = ?",
                          (str(target),)).fetchone()
        con.execute("UPDATE archive_entries SET file_sha256 = ?, size = ?, mtime_ns = ? WHERE path = ?",
                    (digest(target), stat.st_size, stat.st_mtime_ns, str(target)))
        con.commit()
    finally:
        con.close()

    def undo() -> None:
        c = sqlite3.connect(ctx.st.db, timeout=30)
        c.execute("UPDATE archive_entries SET file_sha256 = ?, size = ?, mtime_ns = ? WHERE path = ?",
                  (*old, str(target)))
        c.commit()
        c.close()

    ctx.cleanups.append(undo)
    return Outcome(success=old is not None, impact={"objects_altered": 1},
                   note="image edited and its ledger entry rewritten")


ATTACK = Attack(
    name="ledger-tamper", title="Ledger/store tampering", attack_ids=("T1565.001", "T1070"),
    precondition="write access to the archive and to the radguard store", objective="an edit hidden in the ledger",
    layers=("seal+audit",), run=run, archive=True)
