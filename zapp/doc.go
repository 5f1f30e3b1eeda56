// Package zapp is the ZApp description format, version 3: decoding,
// validation, instance expansion and templates.
//
// # Format
//
// A description is a JSON object in the original Zoe's v3 format; the
// original's sample ZApps validate unchanged (see testdata/). The
// differences are listed at the end.
//
//	{
//	  "name": "spark-jupyter",       // 3–128 characters: letters, digits, "-", "@"
//	  "version": 3,                  // must be 3
//	  "will_end": false,             // true for batch jobs that end by themselves
//	  "size": 512,                   // integer >= 0, a scheduling hint
//	  "services": [{
//	    "name": "spark-worker",      // 3–16 characters: letters, digits, "-"; not starting with "-"
//	    "image": "zapps/spark-worker:10396",
//	    "monitor": false,            // at least one service must have true
//	    "essential_count": 1,        // >= 1
//	    "total_count": 2,            // >= essential_count, <= 1000; the rest are elastic
//	    "startup_order": 1,          // lower starts first within a batch
//	    "replicas": 1,               // optional, >= 1, unused
//	    "resources": {
//	      "memory": {"min": "12GiB", "max": "12GiB"},
//	      "cores": {"min": 6, "max": 6},
//	      "shm": "64MiB"             // optional, /dev/shm size
//	    },
//	    "ports": [{"name": "Web UI", "port_number": 8080, "protocol": "tcp",
//	               "url_template": "http://{ip_port}{proxy_path}", "proxy": true}],
//	    "environment": [["SPARK_MASTER_IP", "{dns_name#spark-master0}"]],
//	    "volumes": [],               // shop descriptions only, see Trust
//	    "command": null,             // null keeps the image's command
//	    "work_dir": "/mnt/workspace",// optional, absolute
//	    "labels": ["ssd"],           // optional: run only on hosts with all these labels
//	    "network": "zoe"             // optional Docker network, default the site's
//	  }]
//	}
//
// Every key shown is required except replicas, shm, proxy, work_dir, labels
// and network. Unknown keys are errors at any depth, so options the format
// cannot express (privileged, network_mode, cap_add, devices, pid, …) are
// rejected rather than ignored. Duplicate keys and data after the
// description are errors too. Parse reports every problem at once, each
// with its JSON path: "services[1].resources.memory.min: 3 GiB exceeds max
// 2 GiB".
//
// # Sizes
//
// Memory (memory.min, memory.max, shm) is a JSON number of bytes, or a
// string with a unit: "512MiB", "2GiB", "2G", "1.5GiB", "1024". All units
// are 1024-based whatever their spelling (K, KB and KiB mean 1024 bytes; M,
// MB, MiB; G, GB, GiB; T, TB, TiB), case-insensitive; fractions round to
// the nearest byte. A non-zero size below 1 KiB is rejected as a likely
// missing unit. Cores are a number of cores (0.5, 2) or a string ("0.5",
// "500m"), kept in milli-cores. Sizes are stored as integers (Bytes,
// MilliCores); json.Marshal writes memory in bytes and cores as numbers.
//
// min is the reservation the scheduler places, max the limit. null and 0
// mean the same thing: for min, no reservation (the service runs with what
// is left on the host, and is scheduled); for max, no limit beyond the
// site's. min must not exceed max when max is set. Marshal writes 0 as null.
//
// # Images
//
// image must be a valid Docker reference (lower-case repository). An image
// without a tag or digest means ":latest", as with the docker CLI; the
// description keeps what was written and ImageRef gives the reference to
// use. Zoe never pulls from a registry that the site did not configure.
//
// # Trust
//
// Who wrote a description decides what it may ask for (Trust):
//   - TrustShop, descriptions in the shop directory written by admins, may
//     declare host volumes (mounted at /mnt/<name>) and labels.
//   - TrustUser, descriptions submitted by users, may not declare any
//     volume (their workspace is always mounted at /mnt/workspace) and may
//     not set NVIDIA_* environment variables, which hand GPU devices to the
//     container under the NVIDIA runtime. Labels are allowed: they only
//     restrict where a service may run.
//   - Nobody gets privileged mode, the host's network or PID namespace,
//     capabilities or devices: the format has no field for them. network
//     "host" and "container:<x>" are rejected for everyone, "none" for
//     users.
//   - Volume paths must be absolute and must not contain "..". The volume
//     name "workspace" is reserved.
//
// # Templates
//
// Environment values, command and url_template are templates: {name} is
// replaced, {{ and }} are literal braces. The variables are:
//
//	{execution_id}        the execution's number
//	{execution_name}      the name the user gave the execution
//	{user_name}           the owner's user name
//	{deployment_name}     the site's deployment name
//	{dns_name#self}       this instance's host name
//	{dns_name#<instance>} another instance's host name, e.g. {dns_name#spark-master0}
//	{proxy_path}          URL path under which Zoe's proxy serves the port, e.g. to set a
//	                      notebook's base URL; in url_template that port's path ("" when
//	                      the port is not proxied), in environment and command the path of
//	                      the service's first port with "proxy": true ("" when none)
//	{ip_port}             host:port where the port is published; url_template only
//
// A host name is "<instance>-<execution id>-<deployment>" (see DNSName).
// Validation rejects an unknown variable, a {dns_name#x} naming an instance
// the description does not have, {ip_port} outside url_template, and a
// stray brace, so templates cannot fail when the execution starts.
//
// A command is split into arguments like Python's shlex.split (see
// SplitCommand) before its arguments are expanded, so an expanded value
// never splits into several arguments.
//
// # Instances
//
// Each service expands into total_count instances named <service><n>:
// the first essential_count are essential, the rest elastic (Instances).
// Instance names must be unique across the description, ignoring case.
//
// # Differences from the original
//
// Rules the original did not check, or checked only when the execution
// started: essential_count <= total_count; environment names; duplicate
// environment names, ports, labels and volumes; all three keys of a volume;
// template variables; memory.min <= memory.max (the original compared min
// with the site's limit and overwrote max); cores.min <= cores.max; service
// names starting with "-" and instance names that collide; work_dir must be
// absolute; the trust rules. Relaxed: memory and cores may be null or 0 and
// are still scheduled, sizes may be strings with units, an untagged image
// means ":latest".
package zapp
