// Numbers written as Python writes them: f"{x:.Nf}" and f"{x:.Ne}", rounded half to even
// on the exact value of the double. (JavaScript's toFixed rounds exact ties up, so that
// 0.125.toFixed(2) is "0.13" where Python prints 0.12.) "Copy as Python" relies on it:
// the snippet prints exactly the digits the page shows.

/** |x| as integer / 10^scale, exactly: a double is m * 2^e, and 2^-e = 5^-e / 10^-e. */
function exactDecimal(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const fraction = bits & 0xfffffffffffffn;
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n); // subnormal or not
  const exponent = Math.max(biased, 1) - 1075;
  return exponent >= 0
    ? { integer: mantissa << BigInt(exponent), scale: 0 }
    : { integer: mantissa * 5n ** BigInt(-exponent), scale: -exponent };
}

/** integer / 10^drop rounded to an integer, ties to even (drop < 0 multiplies). */
function roundHalfEven(integer, drop) {
  if (drop <= 0) return integer * 10n ** BigInt(-drop);
  const divisor = 10n ** BigInt(drop);
  const quotient = integer / divisor;
  const twice = 2n * (integer % divisor);
  const up = twice > divisor || (twice === divisor && quotient % 2n === 1n);
  return up ? quotient + 1n : quotient;
}

function sign(x) {
  return x < 0 || Object.is(x, -0) ? "-" : "";
}

function special(x) {
  if (Number.isNaN(x)) return "nan";
  return x > 0 ? "inf" : "-inf";
}

/** f"{x:.{decimals}f}" */
export function fixed(x, decimals) {
  if (!Number.isFinite(x)) return special(x);
  const { integer, scale } = exactDecimal(x);
  const digits = roundHalfEven(integer, scale - decimals)
    .toString()
    .padStart(decimals + 1, "0");
  const point = decimals ? "." + digits.slice(-decimals) : "";
  return sign(x) + digits.slice(0, digits.length - decimals) + point;
}

/** f"{x:.{decimals}e}" */
export function exponential(x, decimals) {
  if (!Number.isFinite(x)) return special(x);
  let digits = "0".repeat(decimals + 1);
  let exponent = 0;
  if (x !== 0) {
    const { integer, scale } = exactDecimal(x);
    exponent = integer.toString().length - 1 - scale; // x = d.ddd... * 10^exponent
    let rounded = roundHalfEven(integer, scale + exponent - decimals);
    if (rounded.toString().length > decimals + 1) {
      rounded /= 10n; // 9.99996 became 10.0000: exactly a power of 10
      exponent += 1;
    }
    digits = rounded.toString();
  }
  const mantissa = digits[0] + (decimals ? "." + digits.slice(1) : "");
  const power = String(Math.abs(exponent)).padStart(2, "0");
  return `${sign(x)}${mantissa}e${exponent < 0 ? "-" : "+"}${power}`;
}

/** A number as the widgets show it: 4 decimals, or 4 in scientific notation from 1e5 on. */
export function show(x, decimals = 4) {
  return Math.abs(x) < 1e5 ? fixed(x, decimals) : exponential(x, decimals);
}

/** The same rule, as the Python function that "Copy as Python" defines. */
export const PYTHON_SHOW = `def show(x, decimals=4):
    """A number as the playground shows it."""
    return f"{x:.{decimals}f}" if abs(x) < 1e5 else f"{x:.{decimals}e}"`;
