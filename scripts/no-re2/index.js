// See package.json: re2 is deliberately left out; superstatic catches this and uses RegExp.
throw new Error('re2 is left out of this project (README: First install); callers fall back to RegExp');
