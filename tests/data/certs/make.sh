#!/bin/sh
# Regenerates the test certificates (public PEM only is committed; keys live in a temp
# dir and are thrown away). Real openssl output, fixed validity windows so tests do not
# depend on the clock: a root CA, and three leaves it signed: valid until 2099,
# expired in 2021, not valid before 2090.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir db; : > db/index; echo 1000 > db/serial
cat > ca.cnf <<'CNF'
[ca]
default_ca = test
[test]
dir = .
database = db/index
serial = db/serial
new_certs_dir = .
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
organizationName = optional
[leaf]
basicConstraints = critical, CA:FALSE
subjectAltName = DNS:registry.test
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
CNF
# The root is self-signed through `openssl ca` too, so its window is fixed as well.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
  -subj "/O=Fleetaudit Test/CN=Fleetaudit Test Root CA" -out ca.csr 2>/dev/null
openssl ca -batch -config ca.cnf -selfsign -keyfile ca.key -extensions root \
  -startdate 20200101000000Z -enddate 20991231235959Z -in ca.csr -out ca.pem 2>/dev/null
leaf() {  # name cn start end
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -subj "/CN=$2" -out "$1.csr" 2>/dev/null
  openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -extensions leaf \
    -startdate "$3" -enddate "$4" -in "$1.csr" -out "$1.pem" 2>/dev/null
}
leaf valid registry.test 20240101000000Z 20991231235959Z
leaf expired expired.registry.test 20200101000000Z 20210101000000Z
leaf future future.registry.test 20900101000000Z 20910101000000Z
for f in ca valid expired future; do
  openssl x509 -in "$f.pem" -out "$here/$f.pem"
done
# A bundle as distributions ship them: comments and blank lines between certificates.
{
  echo "# Fleetaudit test bundle"; cat "$here/ca.pem"; echo
  echo "junk line between certificates"; cat "$here/valid.pem"
} > "$here/bundle.pem"
