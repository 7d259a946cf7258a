"""User-facing errors: the CLI prints their message on one line and exits with code 2."""


class DsaeError(Exception):
    """A problem the user can fix (missing file, bad shape, bad config, corrupt checkpoint)."""
