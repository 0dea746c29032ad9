"""City profiles: read YAML keeping positions, merge `extends`, validate, cross-check."""

from gridcase.core.profile.loader import Issue, Profile, ProfileError, list_profiles, load
from gridcase.core.profile.validate import load_validated, validate

__all__ = ["Issue", "Profile", "ProfileError", "list_profiles", "load", "load_validated", "validate"]
