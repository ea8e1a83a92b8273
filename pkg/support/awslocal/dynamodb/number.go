package dynamodb

import (
	"math/big"
	"strconv"
	"strings"
)

// decimal is a DynamoDB number, mant × 10^exp, exact: DynamoDB numbers are decimal with up to 38
// significant digits, so a float64 would round what DynamoDB compares and adds exactly.
type decimal struct {
	mant *big.Int
	exp  int
}

// DynamoDB's range: magnitudes from 1E-130 to 9.9999999999999999999999999999999999999E+125.
const (
	maxDigits    = 38
	maxMagnitude = 125  // the largest power of ten below the largest magnitude
	minMagnitude = -130 // the smallest magnitude
)

// parseNumber reads a number as DynamoDB accepts it ("12", "-0.5", "1.5E3") and checks its
// precision and range; the error is DynamoDB's message.
func parseNumber(s string) (decimal, string) {
	if s == "" {
		return decimal{}, "The parameter cannot be converted to a numeric value"
	}
	invalid := "The parameter cannot be converted to a numeric value: " + s
	body, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if hasExp {
		n, err := strconv.Atoi(expText)
		if err != nil || expText == "" || expText[0] == ' ' {
			return decimal{}, invalid
		}
		exp = n
	}
	neg := strings.HasPrefix(body, "-")
	body = strings.TrimPrefix(strings.TrimPrefix(body, "-"), "+")
	whole, frac, _ := strings.Cut(body, ".")
	digits := whole + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return decimal{}, invalid
	}
	exp -= len(frac)
	significant := strings.TrimRight(strings.TrimLeft(digits, "0"), "0")
	if significant == "" {
		return decimal{mant: new(big.Int)}, ""
	}
	if len(significant) > maxDigits {
		return decimal{}, "Attempting to store more than 38 significant digits in a Number"
	}
	exp += len(strings.TrimLeft(digits, "0")) - len(significant) // the trailing zeros dropped
	magnitude := exp + len(significant) - 1
	switch {
	case magnitude > maxMagnitude:
		return decimal{}, "Number overflow. Attempting to store a number with magnitude larger than supported range"
	case magnitude < minMagnitude:
		return decimal{}, "Number underflow. Attempting to store a number with magnitude smaller than supported range"
	}
	m, _ := new(big.Int).SetString(significant, 10)
	if neg {
		m.Neg(m)
	}
	return decimal{mant: m, exp: exp}, ""
}

// aligned returns both mantissas scaled to the smaller exponent.
func aligned(a, b decimal) (x, y *big.Int, exp int) {
	exp = min(a.exp, b.exp)
	scale := func(d decimal) *big.Int {
		f := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.exp-exp)), nil)
		return f.Mul(f, d.mant)
	}
	return scale(a), scale(b), exp
}

func (a decimal) cmp(b decimal) int {
	x, y, _ := aligned(a, b)
	return x.Cmp(y)
}

// add returns a+b (sign -1: a-b) as DynamoDB's text, or DynamoDB's error for a result it cannot
// store.
func (a decimal) add(b decimal, sign int) (string, string) {
	x, y, exp := aligned(a, b)
	if sign < 0 {
		y.Neg(y)
	}
	text := decimal{mant: x.Add(x, y), exp: exp}.String()
	if _, msg := parseNumber(text); msg != "" {
		return "", msg
	}
	return text, ""
}

// String is the number without exponent, sign of zero, leading or trailing zeros: how DynamoDB
// writes back every number it stores ("Leading and trailing zeroes are trimmed", the Developer
// Guide's data types) and the result of arithmetic.
func (a decimal) String() string {
	if a.mant.Sign() == 0 {
		return "0"
	}
	digits := new(big.Int).Abs(a.mant).String()
	exp := a.exp
	for strings.HasSuffix(digits, "0") {
		digits, exp = digits[:len(digits)-1], exp+1
	}
	sign := ""
	if a.mant.Sign() < 0 {
		sign = "-"
	}
	switch {
	case exp >= 0:
		return sign + digits + strings.Repeat("0", exp)
	case -exp >= len(digits):
		return sign + "0." + strings.Repeat("0", -exp-len(digits)) + digits
	}
	return sign + digits[:len(digits)+exp] + "." + digits[len(digits)+exp:]
}
