"""Lab tests: real sshd, dockerd and HAProxy in network namespaces (marker `lab`)."""
