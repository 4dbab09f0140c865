#!/usr/bin/env bash
# Sends one signed request to kunci (docs/signed-requests.md) with openssl and curl.
#
#   KUNCI_CLIENT=billing KUNCI_SECRET=kcs_… ./sign.sh GET https://kunci.example.com/api/v1/me
#   KUNCI_CLIENT=billing KUNCI_SECRET=kcs_… ./sign.sh GET 'https://kunci.example.com/api/v1/search?q=kunci'
#   KUNCI_CLIENT=deploy  KUNCI_SECRET=kcs_… ./sign.sh POST https://kunci.example.com/api/v1/admin/api-keys key.json
#
# The body file is optional (none: an empty body). KUNCI_TIMESTAMP overrides the clock, for tests.
set -euo pipefail

method=$1
url=$2
body=${3:-/dev/null}

rest=${url#*://}                     # host/path?query
path_and_query=/${rest#*/}
[[ $rest == */* ]] || path_and_query=/
timestamp=${KUNCI_TIMESTAMP:-$(date +%s)}
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
nonce=$(openssl rand 16 | b64url)
body_sha256=$(openssl dgst -sha256 -r <"$body" | cut -d' ' -f1)
signature=$(printf '%s\n%s\n%s\n%s\n%s' "$method" "$path_and_query" "$timestamp" "$nonce" "$body_sha256" |
  openssl dgst -sha256 -hmac "$KUNCI_SECRET" -binary | b64url)

exec curl -sS -X "$method" "$url" \
  -H "X-Kunci-Client: $KUNCI_CLIENT" \
  -H "X-Kunci-Timestamp: $timestamp" \
  -H "X-Kunci-Nonce: $nonce" \
  -H "X-Kunci-Signature: $signature" \
  -H "Content-Type: application/json" \
  --data-binary @"$body"
