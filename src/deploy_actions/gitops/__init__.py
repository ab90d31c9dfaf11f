"""GitOps: image references, manifest discovery and editing, the registry, tag policy, bumps."""
