#!/usr/bin/env bash
# testenv-ldap.sh up|down RUNDIR — a private slapd for the LDAP tests.
#
#   up    writes a slapd.conf, a self-signed certificate and a test tree under
#         RUNDIR/slapd, starts slapd on a unix socket and on loopback ports
#         (ldap:// and ldaps://), waits until the service account can search,
#         and writes RUNDIR/ldap.env. Fails loudly if anything does not work.
#   down  stops the slapd that up started.
#
# The tree (base dc=zoe,dc=test), used by auth's tests:
#   cn=zoe-reader            service account (bind user), password reader-secret
#   ou=people  uid=alice     admin: gidNumber 5000, also member of users
#              uid=bob       user:  gidNumber 5001
#              uid=carol     guest: gidNumber 5002
#              uid=dave      no Zoe group: gidNumber 6000
#              uid=erin      user through posixGroup/groupOfNames membership
#                            only (primary gidNumber 6000)
#   ou=groups  cn=admins (5000), cn=users (5001), cn=guests (5002), cn=staff
#              (6000): posixGroup with memberUid
#   ou=roles   cn=zoe-admins, cn=zoe-users, cn=zoe-guests: groupOfNames
#              with member DNs (same membership as the posixGroups)
# Every person's password is <uid>-secret. A second tree, dc=tls,dc=test,
# holds uid=tina (gidNumber 5001), who can only bind over TLS.
set -euo pipefail

die() { echo "testenv-ldap: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 up|down RUNDIR"
RUN=$(mkdir -p "$2" && cd "$2" && pwd)
DIR=$RUN/slapd
PIDFILE=$DIR/slapd.pid
BASE=dc=zoe,dc=test
TLSBASE=dc=tls,dc=test
READER="cn=zoe-reader,$BASE"
READER_PW=reader-secret

stop() {
	[ -f "$PIDFILE" ] || return 0
	local pid
	pid=$(cat "$PIDFILE" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
}

# free_port FROM: the first loopback port from FROM on that nothing answers.
free_port() {
	local p
	for p in $(seq "$1" $(($1 + 200))); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free loopback port from $1"
}

hash() { slappasswd -h '{SSHA}' -s "$1"; }

person() { # uid uidNumber gidNumber
	cat <<EOF
dn: uid=$1,ou=people,$BASE
objectClass: inetOrgPerson
objectClass: posixAccount
uid: $1
cn: ${1^}
sn: Test
mail: $1@zoe.test
uidNumber: $2
gidNumber: $3
homeDirectory: /home/$1
userPassword: $(hash "$1-secret")

EOF
}

posix_group() { # cn gid members...
	local cn=$1 gid=$2; shift 2
	printf 'dn: cn=%s,ou=groups,%s\nobjectClass: posixGroup\ncn: %s\ngidNumber: %s\n' "$cn" "$BASE" "$cn" "$gid"
	for m in "$@"; do printf 'memberUid: %s\n' "$m"; done
	echo
}

names_group() { # cn members...
	local cn=$1; shift
	printf 'dn: cn=%s,ou=roles,%s\nobjectClass: groupOfNames\ncn: %s\n' "$cn" "$BASE" "$cn"
	for m in "$@"; do printf 'member: uid=%s,ou=people,%s\n' "$m" "$BASE"; done
	echo
}

up() {
	for b in slapd slapadd slappasswd ldapsearch openssl; do
		command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || die "$b not found (Debian packages slapd, ldap-utils, openssl)"
	done
	export PATH=$PATH:/usr/sbin
	stop
	rm -rf "$DIR"
	mkdir -p "$DIR/data" "$DIR/data-tls"

	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" >"$DIR/openssl.log" 2>&1 ||
		{ cat "$DIR/openssl.log" >&2; die "could not make the test certificate"; }

	cat >"$DIR/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $PIDFILE
argsfile $DIR/slapd.args
TLSCertificateFile $DIR/cert.pem
TLSCertificateKeyFile $DIR/key.pem

database mdb
suffix "$BASE"
rootdn "cn=admin,$BASE"
rootpw $(hash admin-secret)
directory $DIR/data
maxsize 104857600
access to attrs=userPassword
	by self write
	by anonymous auth
	by * none
access to *
	by dn.exact="$READER" read
	by self read
	by * none

# A second directory whose users may only bind over TLS: a plain ldap://
# bind as one of them fails with confidentialityRequired, the kind of
# non-"invalid credentials" error the original Zoe treated as success.
database mdb
suffix "$TLSBASE"
rootdn "cn=admin,$TLSBASE"
directory $DIR/data-tls
maxsize 104857600
security simple_bind=128
access to attrs=userPassword
	by anonymous auth
	by * none
access to *
	by dn.exact="$READER" read
	by * none
EOF

	{
		cat <<EOF
dn: $BASE
objectClass: dcObject
objectClass: organization
dc: zoe
o: Zoe test

dn: $READER
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: zoe-reader
userPassword: $(hash "$READER_PW")

dn: ou=people,$BASE
objectClass: organizationalUnit
ou: people

dn: ou=groups,$BASE
objectClass: organizationalUnit
ou: groups

dn: ou=roles,$BASE
objectClass: organizationalUnit
ou: roles

EOF
		person alice 10001 5000
		person bob 10002 5001
		person carol 10003 5002
		person dave 10004 6000
		person erin 10005 6000
		posix_group admins 5000 alice
		posix_group users 5001 alice erin
		posix_group guests 5002
		posix_group staff 6000 dave
		names_group zoe-admins alice
		names_group zoe-users alice bob erin
		names_group zoe-guests carol
	} >"$DIR/tree.ldif"

	{
		printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: tls\no: Zoe TLS-only test\n\n' "$TLSBASE"
		printf 'dn: uid=tina,%s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: tina\ncn: Tina\nsn: Test\n' "$TLSBASE"
		printf 'uidNumber: 10006\ngidNumber: 5001\nhomeDirectory: /home/tina\nuserPassword: %s\n\n' "$(hash tina-secret)"
	} >"$DIR/tree-tls.ldif"

	slapadd -f "$DIR/slapd.conf" -b "$BASE" -l "$DIR/tree.ldif" >"$DIR/slapadd.log" 2>&1 ||
		{ cat "$DIR/slapadd.log" >&2; die "slapadd could not load the test tree"; }
	slapadd -f "$DIR/slapd.conf" -b "$TLSBASE" -l "$DIR/tree-tls.ldif" >>"$DIR/slapadd.log" 2>&1 ||
		{ cat "$DIR/slapadd.log" >&2; die "slapadd could not load the TLS-only test tree"; }

	local port sport sock ldapi
	port=$(free_port 38900)
	sport=$(free_port $((port + 1)))
	sock=$DIR/ldapi
	ldapi="ldapi://$(printf '%s' "$sock" | sed 's|/|%2F|g')"
	slapd -f "$DIR/slapd.conf" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$sport/ $ldapi" \
		-d 0 >"$DIR/slapd.log" 2>&1 &
	local ok=
	for _ in $(seq 1 100); do
		if ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -D "$READER" -w "$READER_PW" \
			-b "$BASE" "(uid=alice)" dn >/dev/null 2>&1; then
			ok=1
			break
		fi
		sleep 0.1
	done
	[ -n "$ok" ] || { tail -30 "$DIR/slapd.log" >&2; die "slapd did not start or does not answer (log: $DIR/slapd.log)"; }
	LDAPTLS_CACERT=$DIR/cert.pem ldapsearch -x -LLL -H "ldaps://127.0.0.1:$sport" -D "$READER" -w "$READER_PW" \
		-b "$BASE" "(uid=bob)" dn >/dev/null 2>&1 || die "slapd does not answer on ldaps://127.0.0.1:$sport"

	cat >"$RUN/ldap.env" <<EOF
export ZOE_TEST_LDAP_URL=ldap://127.0.0.1:$port
export ZOE_TEST_LDAPS_URL=ldaps://127.0.0.1:$sport
export ZOE_TEST_LDAP_CA=$DIR/cert.pem
export ZOE_TEST_LDAPI_URL=$ldapi
export ZOE_TEST_LDAP_BIND_DN=$READER
export ZOE_TEST_LDAP_BIND_PASSWORD=$READER_PW
export ZOE_TEST_LDAP_BASE_DN=$BASE
export ZOE_TEST_LDAP_TLS_ONLY_BASE_DN=$TLSBASE
EOF
}

case "$1" in
up) up ;;
down) stop ;;
*) die "usage: $0 up|down RUNDIR" ;;
esac
