from django.urls import register_converter


class ManageTokenConverter:
    """A client's manage token in a URL (the page's and the API's): unguessable, URL-safe."""

    regex = r"[A-Za-z0-9_\-]{20,128}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


# Registered once, here: the page's URLs and the API's both import this module.
register_converter(ManageTokenConverter, "manage_token")
