"""Rewrites of the ONNX node list before lowering: chains of opset-13
nodes that are one operation in dyce (a GroupNorm, a LayerNorm, a channel
shuffle) become one synthetic node each, which lowering.py lowers like any
ONNX node. Each matcher (norms.MATCHERS, channels.MATCHERS) looks at one
node and returns (the chain's nodes, the node or list of nodes replacing
them) or None; a chain that matches only in part is left alone, so
lowering refuses its first node with the reason."""

from onnx import helper, numpy_helper


class View:
    """The node list with its constants and who reads what."""

    def __init__(self, graph, nodes):
        self.nodes = nodes
        self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        for n in nodes:
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                self.consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        self.readers = {}
        for n in nodes:
            for name in dict.fromkeys(n.input):   # x * x reads x once
                self.readers.setdefault(name, []).append(n)
        for out in graph.output:
            self.readers.setdefault(out.name, []).append(None)
        self.producer = {o: n for n in nodes for o in n.output}

    def only_reader(self, tensor, op_type):
        """The one node reading tensor, if it is an op_type (not a graph output)."""
        readers = self.readers.get(tensor, [])
        if len(readers) == 1 and readers[0] is not None and readers[0].op_type == op_type:
            return readers[0]
        return None

    def scalar(self, name):
        value = self.consts.get(name)
        return float(value.ravel()[0]) if value is not None and value.size == 1 else None


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def node(op, name, inputs, output, **attrs):
    """A synthetic node (lowering.py knows its op type)."""
    return helper.make_node(op, inputs, [output], name=name, **attrs)


def apply(graph, matchers):
    """graph.node with every matched chain replaced by its node(s) (at the
    place of the chain's last node, where all its inputs exist)."""
    nodes = list(graph.node)
    for match in matchers:
        view = View(graph, nodes)
        replace, drop = {}, set()
        for n in nodes:
            if id(n) in drop:
                continue
            found = match(view, n)
            if found:
                chain, fused = found
                drop.update(id(c) for c in chain)
                replace[id(chain[-1])] = fused if isinstance(fused, list) else [fused]
        nodes = [m for n in nodes if id(n) not in drop or id(n) in replace
                 for m in replace.get(id(n), [n])]
    return nodes
