{{/*
Chart name, shortened to the 63 characters a label value allows.
*/}}
{{- define "video-callback-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the resources: `<release>-<chart>`, or the release name when it
already contains the chart name; 63 characters at most (DNS label).
*/}}
{{- define "video-callback-bridge.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "video-callback-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "video-callback-bridge.labels" -}}
helm.sh/chart: {{ include "video-callback-bridge.chart" . }}
{{ include "video-callback-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: only name and instance, which never change over upgrades.
*/}}
{{- define "video-callback-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "video-callback-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as.
*/}}
{{- define "video-callback-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "video-callback-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest, or repository:tag (tag default: appVersion).
*/}}
{{- define "video-callback-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
A setting's value as the bridge reads it from its environment: lists joined
with commas, whole numbers without a decimal point or exponent (values files
hand numbers to templates as float64, which would print 1048576 as 1.048576e+06).
*/}}
{{- define "video-callback-bridge.envValue" -}}
{{- if kindIs "slice" . }}
{{- join "," . }}
{{- else if and (kindIs "float64" .) (eq . (floor .)) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
Where the Kafka TLS files are mounted, and the names of the files.
*/}}
{{- define "video-callback-bridge.kafkaCaDir" -}}/etc/bridge/kafka-ca{{- end }}
{{- define "video-callback-bridge.kafkaClientDir" -}}/etc/bridge/kafka-client{{- end }}

{{/*
The Secret holding the Kafka CA bundle ("" when none), and the key in it.
*/}}
{{- define "video-callback-bridge.kafkaCaSecret" -}}
{{- if .Values.kafkaTls.ca.existingSecret }}
{{- .Values.kafkaTls.ca.existingSecret }}
{{- else if .Values.kafkaTls.ca.pem }}
{{- include "video-callback-bridge.fullname" . }}-kafka-tls
{{- end }}
{{- end }}

{{- define "video-callback-bridge.kafkaCaKey" -}}
{{- if .Values.kafkaTls.ca.existingSecret }}{{ .Values.kafkaTls.ca.key }}{{ else }}ca.crt{{ end }}
{{- end }}

{{/*
The Secret holding the Kafka client certificate and key ("" when none), and the keys in it.
*/}}
{{- define "video-callback-bridge.kafkaClientSecret" -}}
{{- if .Values.kafkaTls.client.existingSecret }}
{{- .Values.kafkaTls.client.existingSecret }}
{{- else if .Values.kafkaTls.client.certPem }}
{{- include "video-callback-bridge.fullname" . }}-kafka-tls
{{- end }}
{{- end }}

{{- define "video-callback-bridge.kafkaClientCertKey" -}}
{{- if .Values.kafkaTls.client.existingSecret }}{{ .Values.kafkaTls.client.certKey }}{{ else }}tls.crt{{ end }}
{{- end }}

{{- define "video-callback-bridge.kafkaClientKeyKey" -}}
{{- if .Values.kafkaTls.client.existingSecret }}{{ .Values.kafkaTls.client.keyKey }}{{ else }}tls.key{{ end }}
{{- end }}

{{/*
The settings as rendered into the ConfigMap: `config`, plus the paths of the
mounted Kafka TLS files.
*/}}
{{- define "video-callback-bridge.config" -}}
{{- $config := deepCopy .Values.config }}
{{- if include "video-callback-bridge.kafkaCaSecret" . }}
{{- $_ := set $config "kafka_ssl_cafile" (printf "%s/ca.crt" (include "video-callback-bridge.kafkaCaDir" .)) }}
{{- end }}
{{- if include "video-callback-bridge.kafkaClientSecret" . }}
{{- $_ := set $config "kafka_ssl_certfile" (printf "%s/tls.crt" (include "video-callback-bridge.kafkaClientDir" .)) }}
{{- $_ := set $config "kafka_ssl_keyfile" (printf "%s/tls.key" (include "video-callback-bridge.kafkaClientDir" .)) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
The credentials the chart's own Secret holds: setting name -> value, only those set.
*/}}
{{- define "video-callback-bridge.secretValues" -}}
{{- $values := dict }}
{{- range $key, $value := omit .Values.secrets "existingSecret" }}
{{- if $value }}
{{- $_ := set $values $key $value }}
{{- end }}
{{- end }}
{{- toYaml $values }}
{{- end }}

{{/*
The Secret the credentials are read from: the existing one, the chart's own when
any credential is set, or "" when there are none.
*/}}
{{- define "video-callback-bridge.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if ne (include "video-callback-bridge.secretValues" . | fromYaml | len) 0 }}
{{- include "video-callback-bridge.fullname" . }}
{{- end }}
{{- end }}

{{/*
Seconds Kubernetes waits between the start of the pod's termination and SIGKILL:
the preStop sleep, then the bridge's own shutdown grace, then a margin. A value
given that is not longer than preStop + grace stops the release with a message.
*/}}
{{- define "video-callback-bridge.terminationGracePeriodSeconds" -}}
{{- $preStop := int .Values.preStopSleepSeconds }}
{{- $grace := float64 .Values.config.shutdown_grace_seconds }}
{{- $needed := addf $preStop $grace }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $preStop (int (ceil $grace)) 10 }}
{{- else }}
{{- $given := .Values.terminationGracePeriodSeconds }}
{{- if le (float64 $given) $needed }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be longer than preStopSleepSeconds (%v) + config.shutdown_grace_seconds (%v) = %v, or Kubernetes kills the bridge before it has finished its callbacks and flushed Kafka; raise it or leave it empty to have it computed" (int64 $given) $preStop $grace $needed) }}
{{- end }}
{{- int64 $given }}
{{- end }}
{{- end }}

{{/*
Checks of combinations the schema cannot express; each stops the release with one line.
*/}}
{{- define "video-callback-bridge.validate" -}}
{{- $tls := .Values.kafkaTls }}
{{- if and $tls.ca.existingSecret $tls.ca.pem }}
{{- fail "kafkaTls.ca: set existingSecret or pem, not both" }}
{{- end }}
{{- if and $tls.client.existingSecret (or $tls.client.certPem $tls.client.keyPem) }}
{{- fail "kafkaTls.client: set existingSecret or certPem/keyPem, not both" }}
{{- end }}
{{- if ne (empty $tls.client.certPem) (empty $tls.client.keyPem) }}
{{- fail "kafkaTls.client: certPem and keyPem go together" }}
{{- end }}
{{- if and (include "video-callback-bridge.kafkaCaSecret" .) .Values.config.kafka_ssl_cafile }}
{{- fail "config.kafka_ssl_cafile is set by the chart when kafkaTls.ca is given: leave it empty" }}
{{- end }}
{{- if and (include "video-callback-bridge.kafkaClientSecret" .) (or .Values.config.kafka_ssl_certfile .Values.config.kafka_ssl_keyfile) }}
{{- fail "config.kafka_ssl_certfile and config.kafka_ssl_keyfile are set by the chart when kafkaTls.client is given: leave them empty" }}
{{- end }}
{{- if and (or (include "video-callback-bridge.kafkaCaSecret" .) (include "video-callback-bridge.kafkaClientSecret" .)) (not (has .Values.config.kafka_security_protocol (list "SSL" "SASL_SSL"))) }}
{{- fail (printf "kafkaTls is set but config.kafka_security_protocol is %s: TLS files are only used with SSL or SASL_SSL" .Values.config.kafka_security_protocol) }}
{{- end }}
{{- if .Values.secrets.existingSecret }}
{{- if ne (include "video-callback-bridge.secretValues" . | fromYaml | len) 0 }}
{{- fail "secrets.existingSecret is set: leave the other secrets.* values empty (they would be ignored)" }}
{{- end }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not (or .Values.autoscaling.targetCPUUtilizationPercentage .Values.autoscaling.targetMemoryUtilizationPercentage)) }}
{{- fail "autoscaling is enabled without a target: set autoscaling.targetCPUUtilizationPercentage or autoscaling.targetMemoryUtilizationPercentage" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%v) is greater than autoscaling.maxReplicas (%v)" .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) }}
{{- end }}
{{- end }}

{{/*
The container's environment besides the ConfigMap: each credential from the Secret, and
extraEnv. Shared by the Deployment and the reconcile CronJob. The credentials are the keys
of `secrets` (generated from the bridge's settings by `make settings`), in name order: with
an existing Secret every one of them, else those the chart's Secret holds.
*/}}
{{- define "video-callback-bridge.env" -}}
{{- $secretName := include "video-callback-bridge.secretName" . }}
{{- $secretValues := include "video-callback-bridge.secretValues" . | fromYaml }}
{{- if $secretName }}
{{- range $name, $_ := omit .Values.secrets "existingSecret" }}
{{- if or $.Values.secrets.existingSecret (hasKey $secretValues $name) }}
- name: BRIDGE_{{ upper $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: BRIDGE_{{ upper $name }}
      {{- if $.Values.secrets.existingSecret }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
