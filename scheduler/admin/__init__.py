"""The admin: the models' pages (registry), tenancy in them (scope) and the
practitioner's desk (desk: the agenda by day and week, quick cancel).

Django's autodiscovery imports this package; importing `registry` registers the models.
"""

from scheduler.admin import registry  # noqa: F401 - registers the models' admin pages
