"""The phone survey and its questionnaires (docs/DEVELOPING.md, "Phone survey").

- ``questionnaires``: stored questionnaire versions, the active one, the policy switch, and the
  one cache of parsed definitions (used by the survey pages and by reporting);
- ``links``: the survey links the aggregator signs (counter posters, dossier receipts) and their
  public address; kiosks sign their own (kiosk/thanks.py);
- ``flow``: what a link points at, the pages, drafts, validation and the one-time submission;
- ``posters``: a counter's QR poster.

Modules import downwards only: questionnaires, links <- flow, posters. Import the module you
need; nothing is re-exported here.
"""
