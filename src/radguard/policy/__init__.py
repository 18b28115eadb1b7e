"""Least privilege and deception (floor 4).

``radguard.policy`` learns a gateway policy and an nftables ruleset from recorded traffic, replays recordings
through the gateway's own policy engine before anything is enforced, shows where a running policy is wider
than observed use, and runs decoys and honeytokens that catch what passes every other layer.
"""
