// HTTP dates as RFC 9110 section 5.6.7 defines them, and nothing else: IMF-fixdate, the obsolete
// RFC 850 form and ANSI C asctime(). Date.parse is not used: it reads "1" as the year 2001, so
// `If-Unmodified-Since: 1` would become a real condition instead of being ignored.

const dayNames = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const longDayNames = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const monthNames = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const day = `(${dayNames.join('|')})`;
const longDay = `(${longDayNames.join('|')})`;
const month = `(${monthNames.join('|')})`;
const time = '(\\d{2}):(\\d{2}):(\\d{2})';
/** Sun, 06 Nov 1994 08:49:37 GMT */
const imfFixdate = new RegExp(`^${day}, (\\d{2}) ${month} (\\d{4}) ${time} GMT$`);
/** Sunday, 06-Nov-94 08:49:37 GMT */
const rfc850Date = new RegExp(`^${longDay}, (\\d{2})-${month}-(\\d{2}) ${time} GMT$`);
/** Sun Nov  6 08:49:37 1994 */
const asctimeDate = new RegExp(`^${day} ${month} ( \\d|\\d{2}) ${time} (\\d{4})$`);

/** Years more than this far ahead of "now" in a two-digit RFC 850 year are read as the past century (RFC 9110). */
const twoDigitYearFutureMaxYears = 50;

interface DateParts {
  year: number;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

function toMs(parts: DateParts): number | undefined {
  const monthIndex = monthNames.indexOf(parts.month);
  const [dayOfMonth, hour, minute, second] = [parts.day, parts.hour, parts.minute, parts.second].map((s) => Number(s.trim()));
  if (dayOfMonth === undefined || hour === undefined || minute === undefined || second === undefined) return undefined;
  if (hour > 23 || minute > 59 || second > 60 || dayOfMonth < 1) return undefined;
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(parts.year, monthIndex, dayOfMonth);
  // 31 Feb and the like roll over into the next month: not a date.
  if (date.getUTCMonth() !== monthIndex || date.getUTCDate() !== dayOfMonth) return undefined;
  // Second 60 is a leap second (RFC 9110 allows it): it carries into the next minute.
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

/**
 * Milliseconds since the epoch of an HTTP-date (RFC 9110 section 5.6.7: IMF-fixdate, rfc850-date,
 * asctime-date; names are case-sensitive, the zone must be GMT), or undefined for anything else,
 * which callers then ignore as RFC 9110 section 13.1.3 asks. `nowMs` places two-digit years.
 */
export function parseHttpDate(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let match = imfFixdate.exec(text);
  if (match) {
    const [, , dd = '', mon = '', yyyy = '', hh = '', mm = '', ss = ''] = match;
    return toMs({ year: Number(yyyy), month: mon, day: dd, hour: hh, minute: mm, second: ss });
  }
  match = rfc850Date.exec(text);
  if (match) {
    const [, , dd = '', mon = '', yy = '', hh = '', mm = '', ss = ''] = match;
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(yy);
    if (year > nowYear + twoDigitYearFutureMaxYears) year -= 100;
    return toMs({ year, month: mon, day: dd, hour: hh, minute: mm, second: ss });
  }
  match = asctimeDate.exec(text);
  if (match) {
    const [, , mon = '', dd = '', hh = '', mm = '', ss = '', yyyy = ''] = match;
    return toMs({ year: Number(yyyy), month: mon, day: dd, hour: hh, minute: mm, second: ss });
  }
  return undefined;
}
