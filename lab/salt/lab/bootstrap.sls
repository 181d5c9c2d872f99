# Writes the kube-apiserver static-pod manifest under the lab root, the way a
# distribution's installer writes /etc/kubernetes/manifests/kube-apiserver.yaml.
# The lab node's kubelet runs it as a static pod.
{%- set lab = pillar['lab'] %}

Create the lab static-pod manifest directory:
  file.directory:
    - name: {{ lab.root }}/etc/kubernetes/manifests
    - makedirs: True

Write the kube-apiserver static-pod manifest:
  file.managed:
    - name: {{ lab.root }}/etc/kubernetes/manifests/kube-apiserver.yaml
    - source: salt://lab/files/kube-apiserver.yaml.j2
    - template: jinja
    - replace: False
    - context:
        lab: {{ lab | json }}
    - require:
      - file: Create the lab static-pod manifest directory
