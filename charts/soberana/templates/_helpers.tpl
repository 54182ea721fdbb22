{{/* Names, labels and the shared pieces of the operator and API pods. */}}

{{/* Labels every object of the release carries. */}}
{{- define "soberana.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: soberana
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The selector of one component's pods: (dict "root" $ "component" "operator"). */}}
{{- define "soberana.selector" -}}
app.kubernetes.io/name: {{ printf "soberana-%s" .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* Labels of one component's objects: the release's, its name and its role. */}}
{{- define "soberana.componentLabels" -}}
{{ include "soberana.labels" .root }}
app.kubernetes.io/name: {{ printf "soberana-%s" .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* A component's image: (dict "root" $ "image" .Values.operator.image). */}}
{{- define "soberana.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end }}

{{/*
The objects of one RBAC file of files/rbac/ — the same files the e2e tests apply — in the release
namespace: Namespace objects are left to `helm install --create-namespace` (and the site Secrets'
namespace to templates/site-secrets-namespace.yaml), every namespaced object in `soberana-sites` moves
to `operator.siteSecretsNamespace`, every other one and every ServiceAccount subject to the release
namespace, and the release's labels are added.
(dict "root" $ "file" "files/rbac/operator.yaml")
*/}}
{{- define "soberana.rbacFile" -}}
{{- $root := .root -}}
{{- $text := $root.Files.Get .file -}}
{{- if not $text }}{{ fail (printf "%s is missing from the chart" .file) }}{{ end -}}
{{- range $document := regexSplit "(?m)^---[ \t]*$" $text -1 }}
{{- $object := fromYaml $document }}
{{- if hasKey $object "Error" }}{{ fail (printf "%s: %s" $.file $object.Error) }}{{ end }}
{{- if and $object (ne (get $object "kind") "Namespace") }}
{{- $metadata := $object.metadata }}
{{- if eq (get $metadata "namespace" | default "") "soberana-sites" }}{{ $_ := set $metadata "namespace" $root.Values.operator.siteSecretsNamespace }}
{{- else if hasKey $metadata "namespace" }}{{ $_ := set $metadata "namespace" $root.Release.Namespace }}{{ end }}
{{- $_ := set $metadata "labels" (merge (default (dict) $metadata.labels) (fromYaml (include "soberana.labels" $root))) }}
{{- range $subject := (default (list) $object.subjects) }}
{{- if eq $subject.kind "ServiceAccount" }}{{ $_ := set $subject "namespace" $root.Release.Namespace }}{{ end }}
{{- end }}
---
{{ toYaml $object }}
{{- end }}
{{- end }}
{{- end }}

{{/* The restricted container security context (Pod Security `restricted`). */}}
{{- define "soberana.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* The etcd flags shared by the API and the operator's ledger. */}}
{{- define "soberana.etcdArguments" -}}
{{- with .Values.etcd.tls.secretName }}
- --etcd-ca=/etc/soberana/etcd/ca.crt
{{- if $.Values.etcd.tls.clientCertificate }}
- --etcd-cert=/etc/soberana/etcd/tls.crt
- --etcd-key=/etc/soberana/etcd/tls.key
{{- end }}
{{- end }}
{{- with .Values.etcd.user }}
- --etcd-user={{ . }}
{{- end }}
{{- end }}

{{/* The etcd user's password, from its Secret (never a flag: `ps` shows flags). */}}
{{- define "soberana.etcdPassword" -}}
{{- if .Values.etcd.user }}
{{- if not .Values.etcd.passwordSecret.name }}{{ fail "etcd.user needs etcd.passwordSecret.name" }}{{ end }}
- name: SOBERANA_ETCD_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.etcd.passwordSecret.name }}
      key: {{ .Values.etcd.passwordSecret.key }}
{{- end }}
{{- end }}

{{/* etcd's CA and client certificate, when etcd.tls.secretName names them. */}}
{{- define "soberana.etcdVolumeMounts" -}}
- name: etcd-tls
  mountPath: /etc/soberana/etcd
  readOnly: true
{{- end }}

{{- define "soberana.etcdVolumes" -}}
- name: etcd-tls
  secret:
    secretName: {{ .Values.etcd.tls.secretName }}
{{- end }}

{{/*
A map's key=value pairs, comma-separated in key order: the operator's --slo-rule-labels.
*/}}
{{- define "soberana.labelPairs" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end }}
