# shellcheck shell=bash
# Scenario waf-crs-get-varied: waf-crs-get with a new query string and
# User-Agent on every request (waf-crs-get-varied.lua), so values the WAF
# has seen before cannot answer for them; the other headers repeat, as a
# browser's do.

# shellcheck source=../lib/waf.sh
source "$LT_DIR/lib/waf.sh"
waf_scenario get
# shellcheck disable=SC2034  # read by run.sh
SCENARIO_DESCRIPTION="Benign browser GET /api/hello?id=N&q=shoesN with a new N, and a new User-Agent, on every request (the other headers and the cookies repeat): OWASP CRS $(crs_version) PL1 blocking in gatehouse's waf plugin and in nginx+ModSecurity, against both proxies without a WAF."
# shellcheck disable=SC2034
SCENARIO_WRK_LUA=waf-crs-get-varied.lua
