# shellcheck shell=bash
# Scenario waf-crs-get: the waf plugin running OWASP CRS (PL1, blocking) on a
# benign browser GET, against nginx, nginx+ModSecurity with the same
# CRS, and the same route without the plugin (lib/waf.sh).

# shellcheck source=../lib/waf.sh
source "$LT_DIR/lib/waf.sh"
waf_scenario get
