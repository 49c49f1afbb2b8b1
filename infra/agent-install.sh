#!/usr/bin/env bash
# Installs (or upgrades) fetchbench-agent on one agent instance and starts it. `fetchbench
# install` runs it as root on every agent through SSM (AWS-RunShellScript). Nothing secret is in
# its environment or command text: the instance reads its own SecureString parameter, which its
# role alone may read, for the binary's presigned URL, its TLS key and certificate and the CA.
#
# Input (environment):
#   FETCHBENCH_PARAMETER    SSM parameter prefix; the instance reads <prefix>/<instance id>:
#                           a line "url=<presigned URL of the binary>", then PEM blocks: the
#                           agent's private key, its certificate, the controller's CA
#   FETCHBENCH_SHA256       SHA-256 (hex) the downloaded binary must have
#   FETCHBENCH_PORT         gRPC port [7878]
#   FETCHBENCH_REGION       region of the parameter [the AWS CLI's own]
#   FETCHBENCH_UNIT_SOURCE  the systemd unit to install (infra/fetchbench-agent.service)
# Overrides, to run the script off EC2 (as its tests do) [default]:
#   FETCHBENCH_ROOT         prefix of every path the script writes [none: /]
#   FETCHBENCH_INSTANCE_ID  [from instance metadata, IMDSv2]
#   FETCHBENCH_PUBLIC_IP    [from instance metadata; empty when the instance has none]
#   FETCHBENCH_LISTEN       [0.0.0.0:$FETCHBENCH_PORT]
#
# The agent runs under systemd when systemd is PID 1 and the install goes to /. Otherwise (a
# container, or an install under FETCHBENCH_ROOT) the fallback starts it directly in the
# background, logging to $FETCHBENCH_ROOT/var/log/fetchbench-agent.log, its pid in
# $FETCHBENCH_ROOT/run/fetchbench-agent.pid.
#
# On success the last line of output is
#   fetchbench-agent ready instance=<id> address=<public ip>:<port> sha256=<hex>
# On failure it exits 1 with one line on standard error saying what failed.
set -euo pipefail
umask 077

die() {
  echo "agent-install: $*" >&2
  exit 1
}

: "${FETCHBENCH_PARAMETER:?agent-install: FETCHBENCH_PARAMETER is not set}"
: "${FETCHBENCH_SHA256:?agent-install: FETCHBENCH_SHA256 is not set}"
: "${FETCHBENCH_UNIT_SOURCE:?agent-install: FETCHBENCH_UNIT_SOURCE is not set}"
root=${FETCHBENCH_ROOT:-}
port=${FETCHBENCH_PORT:-7878}
listen=${FETCHBENCH_LISTEN:-0.0.0.0:$port}
expected=$(printf '%s' "$FETCHBENCH_SHA256" | tr 'A-F' 'a-f')
[[ $expected =~ ^[0-9a-f]{64}$ ]] || die "FETCHBENCH_SHA256 is not a SHA-256: $FETCHBENCH_SHA256"

for tool in curl sha256sum awk aws install; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

# Instance metadata through IMDSv2 (the launch template requires tokens).
imds() {
  local token
  token=$(curl -sf -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
    http://169.254.169.254/latest/api/token) || return 1
  curl -sf -m 5 -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

instance_id=${FETCHBENCH_INSTANCE_ID:-}
if [[ -z $instance_id ]]; then
  instance_id=$(imds instance-id) || die "cannot read the instance id from instance metadata"
fi
if [[ -v FETCHBENCH_PUBLIC_IP ]]; then
  public_ip=$FETCHBENCH_PUBLIC_IP
else
  public_ip=$(imds public-ipv4) || public_ip=""
fi

bin_dir=$root/opt/fetchbench/bin
etc_dir=$root/etc/fetchbench
tls_dir=$etc_dir/tls
unit_dir=$root/etc/systemd/system
log_dir=$root/var/log
run_dir=$root/run
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The bundle stays in memory and in root-only files; it is never echoed.
parameter=$FETCHBENCH_PARAMETER/$instance_id
aws_args=(ssm get-parameter --name "$parameter" --with-decryption --query Parameter.Value --output text)
if [[ -n ${FETCHBENCH_REGION:-} ]]; then
  aws_args+=(--region "$FETCHBENCH_REGION")
fi
bundle=$(aws "${aws_args[@]}" 2>"$work/aws.err") ||
  die "cannot read SSM parameter $parameter: $(tail -n 1 "$work/aws.err")"
url=$(printf '%s\n' "$bundle" | sed -n 's/^url=//p' | head -n 1)
[[ -n $url ]] || die "SSM parameter $parameter holds no url= line"

# Download and check before touching anything installed.
curl -fsS --retry 3 -m 300 -o "$work/fetchbench-agent" "$url" 2>"$work/curl.err" ||
  die "cannot download the agent binary: $(tail -n 1 "$work/curl.err")"
actual=$(sha256sum "$work/fetchbench-agent" | awk '{print $1}')
if [[ $actual != "$expected" ]]; then
  die "checksum mismatch: the downloaded binary has sha256 $actual, expected $expected; nothing was installed"
fi

install -d -m 0755 "$bin_dir" "$etc_dir" "$unit_dir" "$log_dir" "$run_dir"
install -d -m 0700 "$tls_dir"
printf '%s\n' "$bundle" | awk -v key="$work/agent.key" -v cert="$work/agent.pem" -v ca="$work/ca.pem" '
  /^-----BEGIN .*PRIVATE KEY-----$/ { out = key }
  /^-----BEGIN CERTIFICATE-----$/ { n++; out = (n == 1) ? cert : ca }
  out != "" { print > out }
  /^-----END / { out = "" }'
for f in agent.key agent.pem ca.pem; do
  [[ -s $work/$f ]] || die "SSM parameter $parameter lacks $f"
  install -m 0600 "$work/$f" "$tls_dir/$f"
done
printf 'FETCHBENCH_LISTEN=%s\nRUST_LOG=warn\n' "$listen" >"$work/agent.env"
install -m 0644 "$work/agent.env" "$etc_dir/agent.env"
install -m 0644 "$FETCHBENCH_UNIT_SOURCE" "$unit_dir/fetchbench-agent.service"

# Replace the binary atomically: a running agent keeps its old inode until it restarts.
install -m 0755 "$work/fetchbench-agent" "$bin_dir/.fetchbench-agent.new"
mv -f "$bin_dir/.fetchbench-agent.new" "$bin_dir/fetchbench-agent"

pid_file=$run_dir/fetchbench-agent.pid
log_file=$log_dir/fetchbench-agent.log
if [[ -z $root && $(cat /proc/1/comm 2>/dev/null) == systemd ]]; then
  mode=systemd
  systemctl daemon-reload
  systemctl enable fetchbench-agent.service >/dev/null 2>&1
  systemctl restart fetchbench-agent.service || die "systemctl restart failed: $(journalctl -u fetchbench-agent -n 3 --no-pager 2>&1 | tail -n 1)"
else
  # Fallback without systemd: stop the agent this script started last time, start the new one.
  mode=direct
  # The agent exits within 3 s of SIGTERM; its listening socket closes at once.
  if [[ -s $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    old_pid=$(cat "$pid_file")
    kill "$old_pid"
    for _ in $(seq 1 50); do
      [[ $(awk '{print $3}' "/proc/$old_pid/stat" 2>/dev/null) =~ ^(Z|)$ ]] && break
      sleep 0.1
    done
    kill -9 "$old_pid" 2>/dev/null || true
  fi
  nohup setsid "$bin_dir/fetchbench-agent" --listen "$listen" \
    --tls-cert "$tls_dir/agent.pem" --tls-key "$tls_dir/agent.key" --tls-client-ca "$tls_dir/ca.pem" \
    </dev/null >>"$log_file" 2>&1 &
  echo $! >"$pid_file"
fi

# Ready when the listening port accepts connections (at most 30 s).
host=${listen%:*}
listen_port=${listen##*:}
[[ $host == 0.0.0.0 ]] && host=127.0.0.1
for _ in $(seq 1 60); do
  if (exec 3<>"/dev/tcp/$host/$listen_port") 2>/dev/null; then
    echo "fetchbench-agent ready instance=$instance_id address=${public_ip:+$public_ip:$port} sha256=$actual"
    exit 0
  fi
  if [[ $mode == direct ]] && ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    die "the agent exited: $(tail -n 1 "$log_file")"
  fi
  sleep 0.5
done
if [[ $mode == direct ]]; then
  die "the agent is not listening on $host:$listen_port after 30 s: $(tail -n 1 "$log_file")"
fi
die "the agent is not listening on $host:$listen_port after 30 s: $(journalctl -u fetchbench-agent -n 1 --no-pager 2>&1 | tail -n 1)"
