#!/usr/bin/env bash
# ensure_chromium: Debian's chromium and chromium-driver (the browser suite, tests/browser), installed
# with apt when missing. Selenium drives them by path; nothing is downloaded at test time.
ensure_chromium() {
  [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] && return 0
  echo "installing chromium and chromium-driver (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
      chromium chromium-driver >/dev/null 2> >(grep -v '^debconf: ' >&2)
}
