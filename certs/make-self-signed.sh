#!/bin/sh
# A self-signed certificate for trying STARTTLS locally; never for production.
set -eu
dir=$(dirname "$0")
name=${1:-localhost}
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
  -subj "/CN=$name" -addext "subjectAltName=DNS:$name,IP:127.0.0.1" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
chmod 600 "$dir/tls.key"
echo "wrote $dir/tls.crt and $dir/tls.key for $name"
