#!/usr/bin/env bash
# The Debian packages `make test` and `make demo` need, installed when missing (make runs this
# first). A package counts as present when its command (or file) is found, however it was
# installed.
# As root it runs apt-get; otherwise through `sudo -n` when that works without a password;
# else it prints one line saying what to install and exits 1. --dry-run prints the apt-get
# command instead of running it.
set -euo pipefail

dry_run=false
case "${1-}" in
  "") ;;
  --dry-run) dry_run=true ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

# command or file, package   (why)
requirements=(
  "git git"                            # every command drives git
  "docker-registry docker-registry"    # the real OCI registry the tests push to
  "skopeo skopeo"                      # copies images into it
  "prometheus prometheus"              # the real metrics backend of the canary tests
  "npm npm"                            # fetches GitHub's pinned API descriptions for the API fake
  "shellcheck shellcheck"              # actionlint's shellcheck rule (silently off without it)
  "buildah buildah"                    # builds the Docker action's image, daemonless
  "debootstrap debootstrap"            # the local Debian base that image test builds FROM
  "/usr/share/keyrings/debian-archive-keyring.gpg debian-archive-keyring"  # ...verified
  "nginx nginx-light"                  # traffic routers for weighted canaries
  "haproxy haproxy"
)

# sbin folders are searched too: they are not on a non-root user's PATH on Debian.
missing=()
for requirement in "${requirements[@]}"; do
  read -r check package <<<"$requirement"
  if [[ $check == /* ]]; then
    [[ -e $check ]] || missing+=("$package")
  else
    PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$check" >/dev/null || missing+=("$package")
  fi
done
# `python3 -m venv` (the Makefile's virtualenv) needs ensurepip, a separate package on Debian.
"${PYTHON:-python3}" -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)

((${#missing[@]})) || exit 0

if [[ $EUID -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "missing system packages; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "missing system packages (Debian names, no apt-get here): ${missing[*]}" >&2
  exit 1
fi

install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}")
if $dry_run; then
  echo "${install[*]}"
  exit 0
fi
echo "installing system packages: ${missing[*]}" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${install[@]}"
