"""Sync on the aggregator: kiosks' identities, their signed requests, the ratings they send and
the fleet page (docs/DEVELOPING.md, "Sync"). Modules import downwards only:

- ``registry``: enrolment codes, register / enroll / revoke / re-enroll / rotate, the scope
  lookups of the kiosk admin pages; ``kiosk_config``: what an enrolled kiosk pulls;
- ``authentication``: a signed request's signature, kiosk status, clock window and nonce;
- ``contact``: what each request says about its kiosk (last seen, clock offset, heartbeat);
- ``sequences``: the sequence numbers accounted for and the gaps;
- ``ingest``: a batch of ratings, exactly once; ``bundles``: a bundle carried by hand;
- ``fleet``: the fleet page.

Refusals are ``ServiceError`` with the codes of ``core.protocol`` (and the kiosk admin codes of
``registry``); the blueprints choose the words. Import the module you need; nothing is
re-exported here.
"""
