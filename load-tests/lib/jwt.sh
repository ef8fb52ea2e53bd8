# shellcheck shell=bash
# jwt_token ALG KEY ISS : a compact JWS (RS256 or ES256) signed with the PEM
# private key KEY, claims {"iss": ISS, "sub": "bench", "exp": now + 1 day},
# made with the openssl command line only.

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
unhex() { printf '%b' "$(sed 's/../\\x&/g')"; }

jwt_token() {
    local alg=$1 key=$2 iss=$3 header claims input sig
    header=$(printf '{"alg":"%s","typ":"JWT"}' "$alg" | b64url)
    claims=$(printf '{"iss":"%s","sub":"bench","exp":%d}' "$iss" "$(($(date +%s) + 86400))" | b64url)
    input="$header.$claims"
    case $alg in
    RS256)
        sig=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$key" -binary | b64url)
        ;;
    ES256)
        # openssl writes ECDSA signatures in DER; JWS wants r || s, 32 bytes each.
        local der hex r s
        der=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$key" -binary | od -An -v -tx1 | tr -d ' \n')
        hex=$(printf '%s' "$der" | unhex | openssl asn1parse -inform DER 2>/dev/null |
            awk -F: '/INTEGER/ {print $NF}')
        r=$(printf '%064s' "$(sed -n 1p <<<"$hex")" | tr ' ' 0 | tail -c 64)
        s=$(printf '%064s' "$(sed -n 2p <<<"$hex")" | tr ' ' 0 | tail -c 64)
        sig=$(printf '%s%s' "$r" "$s" | unhex | b64url)
        ;;
    *) die "jwt_token: unsupported algorithm $alg" ;;
    esac
    printf '%s.%s\n' "$input" "$sig"
}
