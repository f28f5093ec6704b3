"""The error every step of an install raises when it cannot go on.

Its own module because the conversion, the check against the package and the install all
raise it, and none of them should import another only for its error.
"""

from __future__ import annotations


class ModelInstallError(RuntimeError):
    """The model could not be installed; nothing was put in place."""
