"""followup: aftercare text messages for clinics that do dry needling and other hands-on care."""

__version__ = "0.1.0"
