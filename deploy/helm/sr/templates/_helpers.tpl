{{/* Names and labels of the sr chart. */}}
{{- define "sr.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The app.kubernetes.io labels of every object; pass (dict "ctx" $ "component" "status"). */}}
{{- define "sr.labels" -}}
{{ include "sr.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: sr
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "sr.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sr.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "sr.secretName" -}}
{{ .Values.secret.existingSecret | default (printf "%s-secret" (include "sr.fullname" .)) }}
{{- end -}}

{{/* SR_<KEY> of a configuration key: upper-cased, '.' -> '_'. */}}
{{- define "sr.envName" -}}
SR_{{ . | upper | replace "." "_" | replace "-" "_" }}
{{- end -}}

{{/* The container of one process; pass (dict "ctx" $ "component" "status" "bin" "sr-status" "v" .Values.status "data" true). */}}
{{- define "sr.container" -}}
{{- $ := .ctx -}}
{{- $tls := dig "tls" "secretName" "" .v -}}
- name: {{ .component }}
  image: {{ include "sr.image" $ | quote }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  command: [{{ .bin | quote }}]
  envFrom:
    - configMapRef:
        name: {{ include "sr.fullname" $ }}-config
    - secretRef:
        name: {{ include "sr.secretName" $ }}
        optional: true
  env:
    - name: SR_WORKER_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: SR_HTTP_PORT
      value: {{ .v.port | quote }}
    - name: SR_HTTP_BIND
      value: "0.0.0.0"
    - name: SR_DATA_DIR
      value: /var/lib/sr
    {{- if and (eq .component "status") (eq (.v.kind | default "") "statefulset") }}
    # A static member (docs/guarantee.md, "exactly_once"): a restarted pod
    # keeps its partitions without a rebalance, and keeps its transactional
    # id, so its open transaction is aborted at once.
    - name: SR_KAFKA_GROUP_INSTANCE_ID
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- end }}
    {{- if $tls }}
    - name: SR_GATEWAY_TLS_CERT_FILE
      value: /etc/sr/tls/tls.crt
    - name: SR_GATEWAY_TLS_KEY_FILE
      value: /etc/sr/tls/tls.key
    {{- end }}
    {{- range $k, $val := .v.extraConfig }}
    - name: {{ include "sr.envName" $k }}
      value: {{ $val | toString | quote }}
    {{- end }}
  ports:
    - name: http
      containerPort: {{ .v.port }}
      protocol: TCP
  startupProbe:
    httpGet: {path: /livez, port: http{{ if $tls }}, scheme: HTTPS{{ end }}}
    periodSeconds: {{ $.Values.probes.periodSeconds }}
    timeoutSeconds: {{ $.Values.probes.timeoutSeconds }}
    failureThreshold: {{ $.Values.probes.startupFailureThreshold }}
  livenessProbe:
    httpGet: {path: /livez, port: http{{ if $tls }}, scheme: HTTPS{{ end }}}
    periodSeconds: {{ $.Values.probes.periodSeconds }}
    timeoutSeconds: {{ $.Values.probes.timeoutSeconds }}
    failureThreshold: {{ $.Values.probes.livenessFailureThreshold }}
  readinessProbe:
    httpGet: {path: /readyz, port: http{{ if $tls }}, scheme: HTTPS{{ end }}}
    periodSeconds: {{ $.Values.probes.periodSeconds }}
    timeoutSeconds: {{ $.Values.probes.timeoutSeconds }}
    failureThreshold: {{ $.Values.probes.readinessFailureThreshold }}
  resources:
    {{- toYaml .v.resources | nindent 4 }}
  securityContext:
    {{- toYaml $.Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: data
      mountPath: /var/lib/sr
    - name: tmp
      mountPath: /tmp
    {{- if $tls }}
    - name: tls
      mountPath: /etc/sr/tls
      readOnly: true
    {{- end }}
{{- end -}}

{{/* Pod-level settings shared by the processes; pass the same dict. */}}
{{- define "sr.podSpec" -}}
{{- $ := .ctx -}}
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml $.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .v.terminationGracePeriodSeconds }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
