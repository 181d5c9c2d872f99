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
        # A host of a multi-host lab (grains set by labctl): its address and its local etcd member.
        address: {{ grains.get('lab_address', '127.0.0.1') | json }}
        etcd_port: {{ grains.get('lab_etcd_port', lab.ports.etcd_client) | json }}
    - require:
      - file: Create the lab static-pod manifest directory
