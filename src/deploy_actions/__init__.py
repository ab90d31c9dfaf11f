"""deploy-actions: carry a release from a code repository to running software, the GitOps way."""

__version__ = "0.1.0"
