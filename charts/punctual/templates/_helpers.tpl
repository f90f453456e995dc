{{/*
Chart name, or nameOverride.
*/}}
{{- define "punctual.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: fullnameOverride, or the release name
followed by the chart name unless the release name already contains it.
Truncated to 63 characters, the limit of a DNS label.
*/}}
{{- define "punctual.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "punctual.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "punctual.labels" -}}
helm.sh/chart: {{ include "punctual.chart" . }}
{{ include "punctual.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: punctual
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "punctual.selectorLabels" -}}
app.kubernetes.io/name: {{ include "punctual.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "punctual.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "punctual.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "punctual.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "punctual.webhookServiceName" -}}
{{- printf "%s-webhook" (include "punctual.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "punctual.logsServiceName" -}}
{{- printf "%s-logs" (include "punctual.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "punctual.logArchiveDir" -}}
/var/lib/punctual/logs
{{- end }}

{{/*
Command-line arguments of punctual-operator (operator/punctual/__main__.py).
*/}}
{{- define "punctual.args" -}}
{{- if .Values.watchNamespaces }}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- else }}
- --all-namespaces
{{- end }}
# kopf's liveness endpoint. It listens on every interface because the kubelet
# probes the pod's IP address.
- --liveness=http://0.0.0.0:{{ .Values.liveness.port }}{{ .Values.liveness.path }}
{{- if eq .Values.logLevel "debug" }}
- --verbose
{{- end }}
{{- if .Values.metrics.enabled }}
- --metrics-port={{ .Values.metrics.port }}
{{- end }}
{{- with .Values.logs }}
{{- if not (kindIs "invalid" .tailBytes) }}
- --log-tail-bytes={{ .tailBytes | int64 }}
{{- end }}
{{- if not (kindIs "invalid" .snapshotSeconds) }}
- --log-snapshot-seconds={{ .snapshotSeconds }}
{{- end }}
{{- if not (kindIs "invalid" .captureWorkers) }}
- --log-capture-workers={{ .captureWorkers | int64 }}
{{- end }}
{{- end }}
{{- if .Values.logs.archive.enabled }}
- --log-archive-dir={{ include "punctual.logArchiveDir" . }}
- --log-archive-url=http://{{ include "punctual.logsServiceName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.logs.archive.port }}
- --log-server-port={{ .Values.logs.archive.port }}
{{- if not (kindIs "invalid" .Values.logs.archive.maxBytes) }}
- --log-archive-max-bytes={{ .Values.logs.archive.maxBytes | int64 }}
{{- end }}
{{- end }}
{{- if .Values.webhook.enabled }}
- --webhook
# The name in the webhook's URL and certificate: the webhook Service's DNS name.
- --webhook-host={{ include "punctual.webhookServiceName" . }}.{{ .Release.Namespace }}.svc
- --webhook-port={{ .Values.webhook.port }}
- --webhook-listen=0.0.0.0
{{- end }}
{{- end }}
