{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "jira-drift-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: <release>-<chart>, or <release> when it already holds the chart name. */}}
{{- define "jira-drift-operator.fullname" -}}
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

{{- define "jira-drift-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: only the immutable name and instance. */}}
{{- define "jira-drift-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jira-drift-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "jira-drift-operator.labels" -}}
helm.sh/chart: {{ include "jira-drift-operator.chart" . }}
{{ include "jira-drift-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: jiradrift
{{- end }}

{{/* Name of a component's resources, e.g. "<fullname>-token-refresh". */}}
{{- define "jira-drift-operator.componentName" -}}
{{- printf "%s-%s" (include "jira-drift-operator.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jira-drift-operator.operatorServiceAccount" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "jira-drift-operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "jira-drift-operator.tokenServiceAccount" -}}
{{- if .Values.tokenRefresh.serviceAccount.create }}
{{- default (include "jira-drift-operator.componentName" (dict "root" . "component" "token-refresh")) .Values.tokenRefresh.serviceAccount.name }}
{{- else }}
{{- required "tokenRefresh.serviceAccount.name is required when tokenRefresh.serviceAccount.create is false" .Values.tokenRefresh.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "jira-drift-operator.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Namespaces served in namespaced mode, as a JSON list (use with fromJsonArray).
Empty watchNamespaces means the release namespace.
*/}}
{{- define "jira-drift-operator.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- .Values.watchNamespaces | uniq | toJson }}
{{- else }}
{{- list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{/* The scope flags shared by the operator and the token job. */}}
{{- define "jira-drift-operator.scopeArgs" -}}
{{- if .Values.rbac.clusterWide }}
- --all-namespaces
{{- else }}
{{- range (include "jira-drift-operator.watchNamespaces" . | fromJsonArray) }}
- --namespace={{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
RBAC rules of the operator (see the table in README and tests/chart/test_rbac.py).
No create/delete on jiratenants: the operator never makes or removes tenants; patch is for kopf's
finalizer and annotations. Secrets: get for credentials, update to store refreshed tokens (only of
Secrets that opted in to a tenant). With the default secret store, also list/create/patch/delete for
the payload parts, which templates/tenant-spec-guard.yaml confines to Secrets of type
jiradrift.io/snapshot-pack at admission (RBAC cannot tell Secret types apart).
*/}}
{{- define "jira-drift-operator.operatorRules" -}}
- apiGroups: ["jiradrift.io"]
  resources: ["jiratenants"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["jiradrift.io"]
  resources: ["snapshots"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["jiradrift.io"]
  resources: ["sitecomparisons"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["jiradrift.io"]
  resources: ["jiratenants/status", "snapshots/status", "sitecomparisons/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update", "delete"]
{{- if eq .Values.operator.store.type "configmap" }}
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
{{- end }}
{{- end }}

{{/*
The operator's rules on Secrets, granted only where tenants' Secrets may live: each watched namespace,
or with rbac.clusterWide the namespaces of rbac.secretNamespaces (never the whole cluster unless that
list is exactly ["*"]). get and update for credentials; the secret store's payload parts add list,
create, patch and delete, which the Secret guard confines to type jiradrift.io/snapshot-pack.
*/}}
{{- define "jira-drift-operator.operatorSecretRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  {{- if eq .Values.operator.store.type "secret" }}
  verbs: ["get", "update", "list", "create", "patch", "delete"]
  {{- else }}
  verbs: ["get", "update"]
  {{- end }}
{{- end }}

{{/* The token job's rules on Secrets: read and rewrite opted-in credential Secrets by name. */}}
{{- define "jira-drift-operator.tokenSecretRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "update"]
{{- end }}

{{/*
Namespaces whose Secrets the workloads may use in cluster-wide mode: rbac.secretNamespaces, required
(a cluster-wide Secret grant reads every Secret in the cluster, so it is never the silent default).
*/}}
{{- define "jira-drift-operator.secretNamespaces" -}}
{{- $list := .Values.rbac.secretNamespaces | default list | uniq }}
{{- if not $list }}
{{- fail "rbac.clusterWide=true: name the namespaces whose Secrets the operator and the token job may read and update in rbac.secretNamespaces (e.g. --set rbac.secretNamespaces='{team-a,team-b}'), so that it cannot read every Secret in the cluster; tenants elsewhere get CredentialsValid=False, reason SecretForbidden. [\"*\"] grants every namespace, explicitly" }}
{{- end }}
{{- if and (has "*" $list) (gt (len $list) 1) }}
{{- fail "rbac.secretNamespaces: \"*\" (every namespace) cannot be combined with namespace names" }}
{{- end }}
{{- toJson $list }}
{{- end }}

{{/* RBAC rules of the token-refresh job: read tenants, write their token status and Secrets. */}}
{{- define "jira-drift-operator.tokenRules" -}}
- apiGroups: ["jiradrift.io"]
  resources: ["jiratenants"]
  verbs: ["get", "list"]
- apiGroups: ["jiradrift.io"]
  resources: ["jiratenants/status"]
  verbs: ["patch"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{/*
The cluster admin's host allowlist, comma-separated, for --allowed-hosts of both workloads.
*/}}
{{- define "jira-drift-operator.allowedHosts" -}}
{{- if not .Values.allowedHosts }}
{{- fail "allowedHosts is empty: name at least one host tenants' credentials may go to, e.g. *.atlassian.net" }}
{{- end }}
{{- .Values.allowedHosts | uniq | join "," }}
{{- end }}

{{/*
CEL: is the host name (the CEL expression in .host) on the allowlist? One clause per entry;
'*.' entries match by suffix and never an IP address. Call with (dict "root" . "host" "<expr>").
*/}}
{{- define "jira-drift-operator.allowedHostCel" -}}
{{- $host := .host }}
{{- $clauses := list }}
{{- range (.root.Values.allowedHosts | uniq) }}
{{- if hasPrefix "*." . }}
{{- $clauses = append $clauses (printf "(%s.endsWith('%s') && !isIP(%s))" $host (trimPrefix "*" .) $host) }}
{{- else }}
{{- $clauses = append $clauses (printf "%s == '%s'" $host .) }}
{{- end }}
{{- end }}
{{- join " || " $clauses }}
{{- end }}

{{/* Volumes and mounts every container of this chart needs on a read-only root filesystem. */}}
{{- define "jira-drift-operator.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{/* The extra CA bundle: env, mount and volume, shared by both workloads. */}}
{{- define "jira-drift-operator.caEnv" -}}
{{- if .Values.extraCACertificates.configMap }}
- name: JIRADRIFT_EXTRA_CA_FILE
  value: /etc/jiradrift/ca/{{ .Values.extraCACertificates.key }}
{{- end }}
{{- end }}

{{- define "jira-drift-operator.caMount" -}}
{{- if .Values.extraCACertificates.configMap }}
- name: extra-ca
  mountPath: /etc/jiradrift/ca
  readOnly: true
{{- end }}
{{- end }}

{{- define "jira-drift-operator.caVolume" -}}
{{- if .Values.extraCACertificates.configMap }}
- name: extra-ca
  configMap:
    name: {{ .Values.extraCACertificates.configMap }}
{{- end }}
{{- end }}
