"""Gateway policy addons, one policy per module (allowlist, operations, move destinations, rate limit,
inspection, audit). Decision hooks: ``on_associate(assoc)``, ``on_request(assoc, command)``; see
:mod:`radguard.gateway.policy`."""
