"""A tiny scalar autograd engine: each operation's backward sits beside its forward."""

import math
import numbers


class Value:
    """A scalar that remembers how it was computed, so gradients can flow back.

    Parameters
    ----------
    data : float
    """

    def __init__(self, data, parents=(), op=""):
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"Value: data must be a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self._parents = parents
        self._backward = lambda: None
        self.op = op

    @staticmethod
    def lift(v):
        """Wrap a plain number as a Value; leave a Value alone."""
        return v if isinstance(v, Value) else Value(v)

    def __add__(self, other):
        other = Value.lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = backward
        return out

    def __mul__(self, other):
        other = Value.lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = backward
        return out

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            raise TypeError("Value.__pow__: the exponent must be a plain number")
        out = Value(self.data ** k, (self,), f"**{k}")

        def backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = backward
        return out

    def relu(self):
        """max(self, 0)."""
        out = Value(max(self.data, 0.0), (self,), "relu")

        def backward():
            self.grad += (self.data > 0) * out.grad
        out._backward = backward
        return out

    def exp(self):
        """e ** self."""
        out = Value(math.exp(self.data), (self,), "exp")

        def backward():
            self.grad += out.data * out.grad
        out._backward = backward
        return out

    def log(self):
        """Natural logarithm of self."""
        out = Value(math.log(self.data), (self,), "log")

        def backward():
            self.grad += out.grad / self.data
        out._backward = backward
        return out

    @staticmethod
    def max(a, b):
        """The larger of two Values; the gradient goes to the winner (``a`` on a tie)."""
        a, b = Value.lift(a), Value.lift(b)
        winner = a if a.data >= b.data else b
        out = Value(winner.data, (a, b), "max")

        def backward():
            winner.grad += out.grad
        out._backward = backward
        return out

    def backward(self):
        """Fill ``.grad`` of every Value this one depends on (d self / d node)."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-Value.lift(other))

    def __truediv__(self, other):
        return self * Value.lift(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value.lift(other) - self

    def __rtruediv__(self, other):
        return Value.lift(other) / self

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"
