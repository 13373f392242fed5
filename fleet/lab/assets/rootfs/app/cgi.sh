# Helpers sourced by the CGI scripts in /www/cgi-bin (busybox httpd passes the
# container's environment through to them).
REPLICA=${FLEET_REPLICA:-$(hostname)}

# reply STATUS BODY: a text/plain answer naming the replica in a header and the body
reply() {
	printf 'Status: %s\r\nContent-Type: text/plain\r\nX-Fleet-Replica: %s\r\n\r\n%s\n' \
		"$1" "$REPLICA" "$2"
}

# param NAME: the URL-decoded value of NAME in the query string (empty if absent)
param() {
	_v=$(printf '%s\n' "&$QUERY_STRING" | sed -n "s/^.*&$1=\([^&]*\).*\$/\1/p")
	[ -n "$_v" ] && httpd -d "$_v"
}
