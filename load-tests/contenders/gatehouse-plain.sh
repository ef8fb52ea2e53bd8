# shellcheck shell=bash
# Contender "gatehouse-plain": the same gatehouse binary on the scenario's
# plain configuration (scenario_gatehouse_plain_config), so a scenario can
# measure what one feature costs against the gateway without it, in the
# same run (interface: see nginx.sh; building is contender "gatehouse"'s).

GATEHOUSE_PLAIN_PID=""

contender_gatehouse_plain_prepare() {
    [[ -n $GATEHOUSE_BIN ]] || contender_gatehouse_prepare
}

contender_gatehouse_plain_version() {
    echo "the gatehouse binary above, without the scenario's feature"
}

contender_gatehouse_plain_cpu_scope() {
    contender_gatehouse_cpu_scope
}

contender_gatehouse_plain_start() {
    gatehouse_start gatehouse-plain scenario_gatehouse_plain_config "$1"
    GATEHOUSE_PLAIN_PID=$GATEHOUSE_STARTED_PID
}

contender_gatehouse_plain_pids() {
    echo "$GATEHOUSE_PLAIN_PID"
    descendants_of "$GATEHOUSE_PLAIN_PID"
}
