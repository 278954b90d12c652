// Package k8stest validates the Kubernetes base in deploy/k8s offline: it
// renders the kustomization with the kustomize library, decodes every
// manifest strictly into the Kubernetes API types (an unknown or misspelt
// field is an error), loads the mounted config.yaml with each container's
// environment and arguments through Shoal's own configuration loader, and
// checks that the manifests agree with each other: selectors, named ports,
// probes, volumes, the headless services, the autoscaler's target, and the
// addresses the pods advertise and dial.
package k8stest
