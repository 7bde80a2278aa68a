import { readFile } from 'node:fs/promises';
import { errorMessage } from '../../shared/errors.js';
import { loadIssuer, type Issuer } from './issuer.js';

/** Where a CA's certificate and key are kept. */
export interface CaFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A CA from its files; the error names the file and what is wrong with it (the key itself never appears). */
export async function readIssuer(files: CaFiles): Promise<Issuer> {
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${file}: ${errorMessage(err)}`, { cause: err });
    }
  };
  const [certPem, keyPem] = await Promise.all([read(files.certFile), read(files.keyFile)]);
  try {
    return await loadIssuer({ certPem, keyPem });
  } catch (err) {
    throw new Error(`the CA in ${files.certFile} and ${files.keyFile} cannot sign: ${errorMessage(err)}`, { cause: err });
  }
}
