"""What the web faces share: the client's booking page (scheduler.page), the practitioner's
workspace, the API and the admin.

Request parameters (`params`), per-address limits (`limits`), tenancy (`tenancy`), the URL
converter of manage links (`converters`) and the week of free times a picker shows
(`weeks`). It reads the domain (scheduler) and imports no face, so the faces borrow from
here and never from one another (import-linter checks both).
"""
