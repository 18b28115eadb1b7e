"""A compromised modality: the valid AE title CT01 used from a new host (127.0.0.2) (T1078, T0859)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome, stored_outcome


def run(ctx: Context) -> Outcome:
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage  # type: ignore[attr-defined]

    ds = ctx.sample()
    host, port, called = ctx.front
    ae = AE(ae_title="CT01")
    ae.add_requested_context(CTImageStorage, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate(host, port, ae_title=called, bind_address=("127.0.0.2", 0))
    if assoc.is_established:
        assoc.send_c_store(ds)
        assoc.release()
    return stored_outcome(ctx.pacs_has(str(ds.SOPInstanceUID)), yes="object stored from 127.0.0.2",
                           no="association refused")


ATTACK = Attack(
    name="new-host-modality", title="Compromised modality: valid AE from a new host", attack_ids=("T1078", "T0859"),
    precondition="the AE title CT01, from another address", objective="an object stored from the new host",
    layers=("gateway", "monitor"), run=run)
