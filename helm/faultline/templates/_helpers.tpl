{{/* Names ---------------------------------------------------------------------------- */}}
{{- define "faultline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "faultline.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "faultline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "faultline.labels" -}}
helm.sh/chart: {{ include "faultline.chart" . }}
app.kubernetes.io/name: {{ include "faultline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: faultline
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selects every pod of the release. */}}
{{- define "faultline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "faultline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "faultline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "faultline.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "faultline.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "faultline.pullPolicy" -}}
{{- if .Values.image.pullPolicy }}
{{- .Values.image.pullPolicy }}
{{- else if .Values.image.digest }}
{{- "IfNotPresent" }}
{{- else }}
{{- "Always" }}
{{- end }}
{{- end }}

{{/*
The five services: values key -> name, binary, configuration key, ports.
Ports are the services' defaults; containers and Services use the same numbers.
*/}}
{{- define "faultline.serviceTable" -}}
healthChecker:
  name: health-checker
  binary: faultline-health-checker
  configKey: health_checker
  grpcPort: 50050
  adminPort: 9090
  # Its "" health name is the whole system; probes ask about its own process.
  probeService: health-checker
errorIngest:
  name: error-ingest
  binary: faultline-error-ingest
  configKey: error_ingest
  grpcPort: 50051
  adminPort: 9091
  httpPort: 8080
  probeService: ""
injectionFilter:
  name: injection-filter
  binary: faultline-injection-filter
  configKey: injection_filter
  grpcPort: 50052
  adminPort: 9092
  probeService: ""
taskDispatcher:
  name: task-dispatcher
  binary: faultline-task-dispatcher
  configKey: task_dispatcher
  grpcPort: 50053
  adminPort: 9093
  probeService: ""
resultPublisher:
  name: result-publisher
  binary: faultline-result-publisher
  configKey: result_publisher
  grpcPort: 50054
  adminPort: 9094
  probeService: ""
{{- end }}

{{/* Host name of one service's Service object: (dict "root" $ "svc" $svc) */}}
{{- define "faultline.serviceHost" -}}
{{- printf "%s-%s.%s.svc" (include "faultline.fullname" .root) .svc.name .root.Release.Namespace }}
{{- end }}

{{/* Secret files: where each referenced Secret is mounted. */}}
{{- define "faultline.secretDir" -}}/var/run/secrets/faultline{{- end }}

{{/*
The secrets a container needs, as a list of {volume, secret, key, file}.
Call with (dict "root" $ "forInit" bool ["service" name]): the provisioning Job needs only
NATS's; with a service name, only what that service reads (the seal key: injection-filter
and task-dispatcher).
*/}}
{{- define "faultline.secretMounts" -}}
{{- $v := .root.Values }}
{{- $dir := include "faultline.secretDir" . }}
{{- $list := list }}
{{- with $v.nats.auth.credentialsSecret.name }}
{{- $list = append $list (dict "volume" "nats-credentials" "secret" . "key" $v.nats.auth.credentialsSecret.key "setting" "nats.credentials_file") }}
{{- end }}
{{- with $v.nats.auth.passwordSecret.name }}
{{- $list = append $list (dict "volume" "nats-password" "secret" . "key" $v.nats.auth.passwordSecret.key "setting" "nats.password_file") }}
{{- end }}
{{- with $v.nats.auth.tokenSecret.name }}
{{- $list = append $list (dict "volume" "nats-token" "secret" . "key" $v.nats.auth.tokenSecret.key "setting" "nats.token_file") }}
{{- end }}
{{- with $v.nats.tls.caSecret.name }}
{{- $list = append $list (dict "volume" "nats-ca" "secret" . "key" $v.nats.tls.caSecret.key "setting" "nats.tls_ca_file") }}
{{- end }}
{{- if not .forInit }}
{{- with $v.redis.passwordSecret.name }}
{{- $list = append $list (dict "volume" "redis-password" "secret" . "key" $v.redis.passwordSecret.key "setting" "redis.password_file") }}
{{- end }}
{{- if $v.ingest.auth }}
{{- $list = append $list (dict "volume" "api-keys" "secret" (required "ingest.apiKeysSecret.name is required while ingest.auth is true" $v.ingest.apiKeysSecret.name) "key" $v.ingest.apiKeysSecret.key "setting" "ingest.api_keys_file") }}
{{- else if $v.ingest.apiKeysSecret.name }}
{{- $list = append $list (dict "volume" "api-keys" "secret" $v.ingest.apiKeysSecret.name "key" $v.ingest.apiKeysSecret.key "setting" "ingest.api_keys_file") }}
{{- end }}
{{- /* The seal key only where it is read: a service without it cannot seal. */}}
{{- if or (not $.service) (has $.service (list "injection-filter" "task-dispatcher")) }}
{{- with $v.filter.sealKeySecret.name }}
{{- $list = append $list (dict "volume" "seal-key" "secret" . "key" $v.filter.sealKeySecret.key "setting" "filter.seal_key_file") }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson (dict "items" $list) }}
{{- end }}

{{/* The path of one secret file. */}}
{{- define "faultline.secretPath" -}}
{{- printf "%s/%s/%s" (include "faultline.secretDir" .) .volume .key }}
{{- end }}

{{/*
faultline.toml. Call with (dict "root" $ "forInit" bool). Strings go through toJson: a JSON
string is a valid TOML basic string.
*/}}
{{- define "faultline.configToml" -}}
{{- $v := .root.Values }}
{{- $c := $v.config }}
{{- $secrets := (include "faultline.secretMounts" . | fromJson).items }}
# Rendered by the faultline Helm chart. Environment variables override it
# (FAULTLINE_<SECTION>__<KEY>); secrets are files mounted from Kubernetes Secrets.
namespace = {{ $c.namespace | toJson }}

[nats]
url = {{ $v.nats.url | toJson }}
{{- with $v.nats.user }}
user = {{ . | toJson }}
{{- end }}
{{- range $secrets }}
{{- if hasPrefix "nats." .setting }}
{{ trimPrefix "nats." .setting }} = {{ include "faultline.secretPath" . | toJson }}
{{- end }}
{{- end }}

[redis]
url = {{ $v.redis.url | toJson }}
{{- range $secrets }}
{{- if hasPrefix "redis." .setting }}
{{ trimPrefix "redis." .setting }} = {{ include "faultline.secretPath" . | toJson }}
{{- end }}
{{- end }}

[telemetry]
log_filter = {{ $c.logFilter | toJson }}
log_format = {{ $c.logFormat | toJson }}
{{- with $c.otlpEndpoint }}
otlp_endpoint = {{ . | toJson }}
{{- end }}

[readiness]
ttl = {{ $c.readiness.ttl | toJson }}
renew_interval = {{ $c.readiness.renewInterval | toJson }}

[health]
check_interval = {{ $c.health.checkInterval | toJson }}

[shutdown]
grace_period = {{ $c.shutdown.gracePeriod | toJson }}

[provision]
replicas = {{ $c.provision.replicas | int }}
storage = {{ $c.provision.storage | toJson }}
{{- range $env, $e := $c.provision.environments }}

[provision.environments.{{ $env | toJson }}]
{{- with $e.dedupWindow }}
dedup_window = {{ . | toJson }}
{{- end }}
{{- with $e.maxAge }}
max_age = {{ . | toJson }}
{{- end }}
{{- end }}
{{- if not .forInit }}

[ingest]
http_addr = {{ printf "%s:8080" (include "faultline.serviceHost" (dict "root" .root "svc" (dict "name" "error-ingest"))) | toJson }}
auth = {{ $v.ingest.auth }}
{{- with $v.ingest.defaultEnvironment }}
default_environment = {{ . | toJson }}
{{- end }}
{{- range $secrets }}
{{- if hasPrefix "ingest." .setting }}
{{ trimPrefix "ingest." .setting }} = {{ include "faultline.secretPath" . | toJson }}
{{- end }}
{{- end }}
{{- with $v.filter.sealKeySecret.name }}

[filter]
{{- range $secrets }}
{{- if hasPrefix "filter." .setting }}
{{ trimPrefix "filter." .setting }} = {{ include "faultline.secretPath" . | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- $root := .root }}
{{- range $key, $svc := include "faultline.serviceTable" .root | fromYaml }}

[services.{{ $svc.configKey }}]
grpc_addr = {{ printf "%s:%d" (include "faultline.serviceHost" (dict "root" $root "svc" $svc)) ($svc.grpcPort | int) | toJson }}
admin_addr = {{ printf "%s:%d" (include "faultline.serviceHost" (dict "root" $root "svc" $svc)) ($svc.adminPort | int) | toJson }}
{{- end }}
{{- end }}
{{- end }}

{{/* Volumes for the secrets (dict "root" $ "forInit" bool). */}}
{{- define "faultline.secretVolumes" -}}
{{- range (include "faultline.secretMounts" . | fromJson).items }}
- name: {{ .volume }}
  secret:
    secretName: {{ .secret }}
    defaultMode: 0440
    items:
      - key: {{ .key }}
        path: {{ .key }}
{{- end }}
{{- end }}

{{- define "faultline.secretVolumeMounts" -}}
{{- range (include "faultline.secretMounts" . | fromJson).items }}
- name: {{ .volume }}
  mountPath: {{ printf "%s/%s" (include "faultline.secretDir" .) .volume }}
  readOnly: true
{{- end }}
{{- end }}
