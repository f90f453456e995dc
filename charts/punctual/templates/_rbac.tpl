{{/*
RBAC rules of the operator: the calls of kopf 1.45 and of operator/punctual,
and no more. The namespaced rules go into the ClusterRole when the operator
serves all namespaces, and into a Role in each watched namespace otherwise.
config/rbac/cluster_role.yaml holds the same rules for kustomize, and
tests/e2e/test_install.py checks that the two agree.
*/}}

{{/*
Rules on namespaced resources.
*/}}
{{- define "punctual.namespacedRules" -}}
# kopf watches ScheduledJobs and stores its handler progress in their
# annotations. The operator never creates or deletes a ScheduledJob.
- apiGroups: ["punctual.dev"]
  resources: ["scheduledjobs"]
  verbs: ["get", "list", "watch", "update", "patch"]
# The operator creates one JobRun per run and deletes the oldest finished ones.
- apiGroups: ["punctual.dev"]
  resources: ["jobruns"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["punctual.dev"]
  resources: ["scheduledjobs/status", "jobruns/status"]
  verbs: ["get", "update", "patch"]
# One Job per run. Deleting a Job cancels its run (concurrencyPolicy Replace).
# The admission webhook's server-side dry run of a Job also needs create.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete", "patch"]
# The pods of the Jobs, for the time a run started and a failed container's
# exit code, and their logs, which the operator copies into JobRun status.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
{{- if .Values.rbac.readSecrets }}
# The Secrets named by spec.notify sinks, which hold their webhook URLs.
# Only get: the operator reads a Secret by name and never lists them.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
# The operator and kopf post core/v1 Events; events.k8s.io is the same
# resource's newer API group.
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
Rules on cluster-scoped resources, needed in both modes.
*/}}
{{- define "punctual.clusterRules" -}}
# kopf lists and watches namespaces to follow namespace patterns, and CRDs to
# notice when the resources it serves are installed, changed or removed.
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- if .Values.webhook.enabled }}
# kopf creates the ValidatingWebhookConfiguration punctual.dev and patches its
# webhooks. RBAC cannot limit create to one name, but it limits every other
# verb to that configuration, so the operator cannot change other webhooks.
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["validatingwebhookconfigurations"]
  verbs: ["create"]
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["validatingwebhookconfigurations"]
  resourceNames: ["punctual.dev"]
  verbs: ["get", "update", "patch"]
{{- end }}
{{- end }}
